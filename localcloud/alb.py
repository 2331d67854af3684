"""``python -m localcloud.alb LISTEN_HOST LISTEN_PORT STATE_FILE``: the local stand-in of an ALB.

It forwards TCP connections (HTTP/1.1, keep-alive included) round-robin to the targets that
``localcloud.ecs`` writes into STATE_FILE (``{"targets": ["ip:port", ...], "health_path": "/health"}``)
and health-checks them itself, like a target group: a target receives traffic only after its
health path answered 200, and leaves rotation after two failed checks. With no healthy
target it answers 503, as an ALB does. STATE_FILE is re-read whenever it changes, so a rolling
update moves traffic without a restart. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
from pathlib import Path

from localcloud.dbproxy import pipe

CHECK_INTERVAL = 2.0
UNHEALTHY_AFTER = 2
NO_TARGET = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    b"Connection: close\r\n\r\nno healthy target (503)\n"
)


class Balancer:
    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.mtime = 0.0
        self.targets: list[str] = []
        self.health_path = "/health"
        self.failures: dict[str, int] = {}
        self.healthy: set[str] = set()
        self.counter = itertools.count()

    def reload(self) -> None:
        try:
            mtime = self.state_file.stat().st_mtime
        except FileNotFoundError:
            self.targets = []
            return
        if mtime == self.mtime:
            return
        self.mtime = mtime
        data: dict[str, list[str]] = {}
        with contextlib.suppress(ValueError, OSError):
            data = json.loads(self.state_file.read_text())
            self.targets = [str(t) for t in data.get("targets", [])]
            self.health_path = str(data.get("health_path", "/health"))
        # Targets the state names as already healthy (checked by localcloud.ecs) serve at once.
        self.healthy = {t for t in self.healthy if t in self.targets} | {
            t for t in data.get("healthy", []) if t in self.targets
        }

    async def probe(self, target: str) -> bool:
        host, port = target.rsplit(":", 1)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2)
            writer.write(f"GET {self.health_path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 3)
            writer.close()
            return status.split(b" ")[1:2] == [b"200"]
        except (TimeoutError, OSError, IndexError):
            return False

    async def check_forever(self) -> None:
        while True:
            self.reload()
            results = await asyncio.gather(*(self.probe(t) for t in self.targets))
            for target, ok in zip(self.targets, results, strict=True):
                if ok:
                    self.failures[target] = 0
                    self.healthy.add(target)
                else:
                    self.failures[target] = self.failures.get(target, 0) + 1
                    if self.failures[target] >= UNHEALTHY_AFTER:
                        self.healthy.discard(target)
            await asyncio.sleep(CHECK_INTERVAL)

    def pick(self) -> str | None:
        self.reload()
        ready = [t for t in self.targets if t in self.healthy]
        return ready[next(self.counter) % len(ready)] if ready else None


async def serve(listen_host: str, listen_port: int, state_file: Path) -> None:
    balancer = Balancer(state_file)

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        target = balancer.pick()
        upstream = None
        if target is not None:
            host, port = target.rsplit(":", 1)
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                upstream = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 3)
        if upstream is None:
            client_writer.write(NO_TARGET)
            with contextlib.suppress(ConnectionError, OSError):
                await client_writer.drain()
            client_writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))

    checker = asyncio.create_task(balancer.check_forever())
    server = await asyncio.start_server(handle, listen_host, listen_port)
    async with server:
        await asyncio.gather(server.serve_forever(), checker)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    asyncio.run(serve(argv[0], int(argv[1]), Path(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
