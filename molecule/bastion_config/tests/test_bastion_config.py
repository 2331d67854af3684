"""What bastion_config leaves on a real host (testinfra, through molecule's inventory)."""

from __future__ import annotations

import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")

ALICE_KEYS = {"alice@test", "alice@phone"}


def sshd_effective(host) -> dict[str, str]:
    """`sshd -T`: the configuration sshd actually uses; repeated keys (allowgroups) joined by spaces."""
    with host.sudo():
        out = host.check_output("/usr/sbin/sshd -T")
    conf: dict[str, str] = {}
    for key, _, value in (line.partition(" ") for line in out.splitlines()):
        conf[key] = f"{conf[key]} {value}" if key in conf else value
    return conf


def test_admin_user_exists_in_admin_group_with_bash(host) -> None:
    alice = host.user("alice")
    assert alice.exists
    assert "bastion-admins" in alice.groups
    assert alice.shell == "/bin/bash"


def test_admin_authorized_keys_hold_exactly_the_inventory_keys(host) -> None:
    keys = host.file("/home/alice/.ssh/authorized_keys")
    assert keys.user == "alice" and keys.mode == 0o600
    assert host.file("/home/alice/.ssh").mode == 0o700
    assert {line.split()[-1] for line in keys.content_string.splitlines()} == ALICE_KEYS


def test_admin_with_state_absent_is_removed_with_its_home(host) -> None:
    assert not host.user("carol").exists
    assert not host.file("/home/carol").exists


def test_admin_group_gets_sudo_from_a_validated_sudoers_file(host) -> None:
    sudoers = host.file("/etc/sudoers.d/50-bastion-admins")
    assert sudoers.mode == 0o440 and sudoers.user == "root"
    assert "%bastion-admins ALL=(ALL:ALL) NOPASSWD: ALL" in sudoers.content_string
    with host.sudo():
        assert host.run("visudo -c").rc == 0
        assert "(ALL : ALL) NOPASSWD: ALL" in host.check_output("sudo -l -U alice")


def test_sshd_refuses_root_and_passwords(host) -> None:
    conf = sshd_effective(host)
    assert conf["permitrootlogin"] == "no"
    assert conf["passwordauthentication"] == "no"
    assert conf["kbdinteractiveauthentication"] == "no"
    assert conf["permitemptypasswords"] == "no"
    assert conf["authenticationmethods"] == "publickey"


def test_sshd_allows_only_the_admin_and_login_groups(host) -> None:
    assert sshd_effective(host)["allowgroups"].split() == ["bastion-admins", "admin"]


def test_sshd_offers_only_modern_ciphers_macs_and_kex(host) -> None:
    conf = sshd_effective(host)
    assert not {c for c in conf["ciphers"].split(",") if "cbc" in c or c == "3des-cbc"}
    assert all(mac.endswith("-etm@openssh.com") for mac in conf["macs"].split(","))
    assert "diffie-hellman-group1-sha1" not in conf["kexalgorithms"]
    assert "diffie-hellman-group14-sha1" not in conf["kexalgorithms"]
    assert conf["x11forwarding"] == "no" and conf["allowagentforwarding"] == "no"


def test_sshd_config_is_root_only_and_valid(host) -> None:
    conf = host.file("/etc/ssh/sshd_config")
    assert conf.user == "root" and conf.mode == 0o600
    with host.sudo():
        assert host.run("/usr/sbin/sshd -t").rc == 0


def test_sshd_runs_with_the_new_config(host) -> None:
    assert host.process.filter(comm="sshd")
    assert host.socket("tcp://0.0.0.0:22").is_listening


def test_bastion_packages_are_installed(host) -> None:
    for name in ("postgresql-client", "awscli", "jq", "chrony", "unattended-upgrades", "auditd"):
        assert host.package(name).is_installed, name
    assert host.exists("psql") and host.exists("aws") and host.exists("jq")


def test_chrony_runs_without_clock_control_in_the_container(host) -> None:
    chronyd = host.process.filter(comm="chronyd")
    assert chronyd
    assert "-x" in chronyd[0].args  # a container may not set the clock
    assert "169.254.169.123" in host.file("/etc/chrony/chrony.conf").content_string


def test_unattended_upgrades_install_security_updates_daily(host) -> None:
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    origins = host.file("/etc/apt/apt.conf.d/52unattended-upgrades-bastion").content_string
    assert "Debian-Security" in origins
    # What unattended-upgrades reads: Debian's 50unattended-upgrades merged with ours, which must
    # replace its list (stable included), not add to it.
    dump = host.run("apt-config dump Unattended-Upgrade::Origins-Pattern").stdout
    key = "Unattended-Upgrade::Origins-Pattern:: "
    patterns = [line.removeprefix(key) for line in dump.splitlines() if line.startswith(key)]
    assert patterns == ['"origin=Debian,codename=${distro_codename}-security,label=Debian-Security";']


def test_audit_rules_watch_identity_sudoers_and_sshd(host) -> None:
    rules = host.file("/etc/audit/rules.d/50-bastion.rules")
    assert rules.mode == 0o640
    for key in ("-k identity", "-k sudoers", "-k sshd", "-k root-commands"):
        assert key in rules.content_string


def test_motd_names_the_environment(host) -> None:
    assert "environment: MOLECULE" in host.file("/etc/motd").content_string


def test_db_connect_is_installed_and_its_config_holds_no_password(host) -> None:
    helper = host.file("/usr/local/bin/db-connect")
    assert helper.mode == 0o755 and helper.user == "root"
    conf = host.file("/etc/db-connect.conf")
    assert conf.mode == 0o640 and conf.group == "bastion-admins"
    with host.sudo():
        text = conf.content_string
    assert "DB_SECRET_ID=resume-molecule/db-master" in text
    assert "password" not in text.lower()
    assert "AWS_SECRET_ACCESS_KEY" not in text  # no emulator keys outside the local cloud
