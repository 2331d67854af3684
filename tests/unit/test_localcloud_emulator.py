"""The local cloud's control plane: start, health, refusal of a busy port, stop."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.emulator import Emulator, LocalCloudError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(state_dir=tmp_path / "cloud", port=_free_port())
    yield emu
    emu.stop()


def test_port_from_environment_must_be_a_port_number(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCALCLOUD_PORT", "http")
    with pytest.raises(LocalCloudError, match="LOCALCLOUD_PORT"):
        Emulator.from_env(tmp_path)
    monkeypatch.setenv("LOCALCLOUD_PORT", "5123")
    assert Emulator.from_env(tmp_path).endpoint == "http://127.0.0.1:5123"


def test_start_is_healthy_idempotent_and_stop_frees_the_port(emulator: Emulator) -> None:
    assert "started" in emulator.start()
    assert emulator.healthy()
    assert emulator.log_file.exists() and emulator.pid() is not None
    assert "already running" in emulator.start()
    assert "stopped" in emulator.stop()
    assert not emulator.port_in_use()
    assert emulator.stop() == "local cloud not running"


def test_a_port_held_by_something_else_is_refused_with_a_clear_message(emulator: Emulator) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", emulator.port))
        holder.listen()
        with pytest.raises(LocalCloudError, match=f"port {emulator.port} .* held by another process"):
            emulator.start()
    assert emulator.pid() is None


def test_check_fails_clearly_when_nothing_answers(emulator: Emulator) -> None:
    with pytest.raises(LocalCloudError, match="no local cloud answers"):
        emulator.check()


def test_a_recycled_pid_is_not_taken_for_the_server(emulator: Emulator) -> None:
    emulator.state_dir.mkdir(parents=True)
    emulator.pid_file.write_text("1\n")  # PID 1 is alive but is not moto
    assert emulator.pid() is None
