"""roles/bastion_config: the apt configuration as apt itself reads it.

Debian's unattended-upgrades package ships /etc/apt/apt.conf.d/50unattended-upgrades, whose
Origins-Pattern list includes the stable suite; a later file's list is appended to it (apt.conf(5)),
so the role's 52unattended-upgrades-bastion must `#clear` it for "security updates only" to hold.
The rendered file is merged with Debian 12's shipped list by this machine's apt-config."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[3]
# The Origins-Pattern of Debian 12's /etc/apt/apt.conf.d/50unattended-upgrades (unattended-upgrades 2.9).
DEBIAN_50 = """Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename},label=Debian";
        "origin=Debian,codename=${distro_codename},label=Debian-Security";
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
"""
SECURITY = '"origin=Debian,codename=${distro_codename}-security,label=Debian-Security";'


def render(name: str, **variables: object) -> str:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - apt config
    source = (ROOT / "roles/bastion_config/templates" / name).read_text()
    return environment.from_string(source).render(ansible_managed="Managed by Ansible", **variables)


def apt_config_dump(parts: Path, key: str) -> list[str]:
    main = parts.parent / "apt.conf"
    main.write_text(f'Dir::Etc::main "/dev/null";\nDir::Etc::parts "{parts}";\n')
    env = dict(os.environ, APT_CONFIG=str(main))
    proc = subprocess.run(["apt-config", "dump", key], env=env, capture_output=True, text=True, check=True)
    return [line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith(f"{key}:: ")]


@pytest.mark.skipif(shutil.which("apt-config") is None, reason="needs apt-config (Debian)")
def test_the_bastion_takes_security_updates_only_whatever_debian_ships(tmp_path: Path) -> None:
    parts = tmp_path / "apt.conf.d"
    parts.mkdir()
    (parts / "50unattended-upgrades").write_text(DEBIAN_50)
    (parts / "52unattended-upgrades-bastion").write_text(
        render("52unattended-upgrades-bastion.j2", bastion_config_auto_reboot=False)
    )
    assert apt_config_dump(parts, "Unattended-Upgrade::Origins-Pattern") == [SECURITY]
