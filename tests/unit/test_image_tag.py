"""playbooks/tasks/image_tag.yml: the tag an image is built, pushed and deployed under, from a real git
checkout. A clean app/ gives the commit; changed code never goes out under the commit's tag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.import_tasks: {tasks}
    - ansible.builtin.debug:
        msg: "TAG={{{{ app_deploy_image_tag }}}}"
"""


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "main.py").write_text("print('v1')\n")
    (repo / "README.md").write_text("readme\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    return repo


def image_tag(tmp_path: Path, source: Path, *extra: str) -> tuple[int, str]:
    playbook = tmp_path / "tag.yml"
    playbook.write_text(PLAYBOOK.format(tasks=ROOT / "playbooks" / "tasks" / "image_tag.yml"))
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            "-e",
            json.dumps({"image_source_dir": str(source)}),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1"},
    )
    found = [line.split("TAG=", 1)[1].strip().strip('"') for line in proc.stdout.splitlines() if "TAG=" in line]
    return proc.returncode, found[0] if found else proc.stdout[-2000:]


def test_a_clean_checkout_is_tagged_with_its_commit(tmp_path: Path, checkout: Path) -> None:
    (checkout / "README.md").write_text("changed outside app/\n")  # not in the image
    assert image_tag(tmp_path, checkout) == (0, git(checkout, "rev-parse", "--short=12", "HEAD"))


def test_changed_code_gets_a_tag_of_its_own_and_the_same_change_the_same_tag(tmp_path: Path, checkout: Path) -> None:
    commit = git(checkout, "rev-parse", "--short=12", "HEAD")
    (checkout / "app" / "main.py").write_text("print('v2')\n")
    rc, first = image_tag(tmp_path, checkout)
    assert rc == 0
    assert first.startswith(f"{commit}-dirty-") and len(first) == len(commit) + 7 + 12, first
    assert image_tag(tmp_path, checkout) == (0, first)
    (checkout / "app" / "main.py").write_text("print('v3')\n")
    assert image_tag(tmp_path, checkout)[1] not in (first, commit)


def test_a_new_untracked_file_in_app_is_a_change(tmp_path: Path, checkout: Path) -> None:
    commit = git(checkout, "rev-parse", "--short=12", "HEAD")
    (checkout / "app" / "extra.py").write_text("x = 1\n")
    assert image_tag(tmp_path, checkout)[1].startswith(f"{commit}-dirty-")


def test_a_given_tag_is_kept_and_no_checkout_without_one_fails_clearly(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert image_tag(tmp_path, plain, "-e", "app_deploy_image_tag=v1.2.3") == (0, "v1.2.3")
    rc, output = image_tag(tmp_path, plain)
    assert rc != 0
    assert "is not a git checkout" in output and "app_deploy_image_tag" in output, output
