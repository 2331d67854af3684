"""Container HEALTHCHECK: `python -m resume_service.healthcheck` (no curl in the image).

For the API it GETs http://127.0.0.1:$API_PORT/health with urllib. The same image also runs
the worker and the migrations (command override); those have no HTTP port, so when PID 1
is one of them the check passes as long as the process is alive.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

NON_HTTP_ROLES = ("resume_service.worker", "resume_service.migrate")


def pid1_cmdline() -> str:
    try:
        return Path("/proc/1/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def check_http(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def main() -> int:
    if any(role in pid1_cmdline() for role in NON_HTTP_ROLES):
        return 0
    port = os.environ.get("API_PORT", "8000")
    return 0 if check_http(f"http://127.0.0.1:{port}/health") else 1


if __name__ == "__main__":
    sys.exit(main())
