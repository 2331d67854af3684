"""Start, stop and health-check the local cloud's server (``localcloud.server``: the moto emulator
and the controller that follows it, in one process)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 5100
DEFAULT_HOST = "127.0.0.1"
# The dashboard page: small and static (data.json dumps the whole state, megabytes).
HEALTH_PATH = "/moto-api/"


class LocalCloudError(RuntimeError):
    """A condition the user must fix; the message says what and how."""


@dataclass(frozen=True)
class Emulator:
    """One moto server, identified by its port and its state folder."""

    state_dir: Path
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST

    @classmethod
    def from_env(cls, root: Path) -> Emulator:
        state = Path(os.environ.get("LOCALCLOUD_STATE_DIR", root / ".state" / "localcloud"))
        raw_port = os.environ.get("LOCALCLOUD_PORT", str(DEFAULT_PORT))
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise LocalCloudError(f"LOCALCLOUD_PORT must be a TCP port number, got {raw_port!r}")
        return cls(state_dir=state, port=int(raw_port))

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "moto.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "moto.log"

    def pid(self) -> int | None:
        """PID of the server this project started, if it is still alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and b"localcloud.server" not in cmdline.read_bytes():
            return None  # the PID was recycled by an unrelated process
        return pid

    def port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((self.host, self.port)) == 0

    def healthy(self) -> bool:
        """True when a moto server answers its management API on the port."""
        try:
            with urllib.request.urlopen(self.endpoint + HEALTH_PATH, timeout=2) as resp:  # noqa: S310 - http://127.0.0.1 only
                return resp.status == 200 and b"moto" in resp.read().lower()
        except (OSError, urllib.error.URLError):
            return False

    def start(self, timeout: float = 30.0) -> str:
        """Start the server unless ours already runs; return a one-line status."""
        if self.pid() is not None:
            if self.healthy():
                return f"local cloud already running at {self.endpoint} (pid {self.pid()})"
            raise LocalCloudError(
                f"local cloud process {self.pid()} is alive but {self.endpoint} does not answer; "
                f"see {self.log_file}, or run 'make down' and retry"
            )
        if self.port_in_use():
            raise LocalCloudError(
                f"port {self.port} on {self.host} is held by another process, not by this project's "
                "local cloud; stop it or choose another port with LOCALCLOUD_PORT=<port>"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [sys.executable, "-m", "localcloud.server", "--host", self.host, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=Path(__file__).resolve().parent.parent,  # the project root, where the package is
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LocalCloudError(f"local cloud server exited with code {proc.returncode}; see {self.log_file}")
            if self.healthy():
                return f"local cloud started at {self.endpoint} (pid {proc.pid})"
            time.sleep(0.2)
        self._terminate(proc.pid)
        raise LocalCloudError(f"local cloud server did not answer within {timeout:.0f}s; see {self.log_file}")

    def stop(self) -> str:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return "local cloud not running"
        self._terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        return f"local cloud stopped (pid {pid})"

    def check(self) -> str:
        """Fail unless the server answers: run before any play touches the endpoint."""
        if self.healthy():
            return f"local cloud healthy at {self.endpoint}"
        raise LocalCloudError(f"no local cloud answers at {self.endpoint}; start it with 'make localcloud'")

    @staticmethod
    def _terminate(pid: int, timeout: float = 10.0) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
