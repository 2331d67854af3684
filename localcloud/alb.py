"""``python -m localcloud.alb CONFIG``: the local stand-in of one Application Load Balancer.

CONFIG (written by ``localcloud.elb`` from the emulator's load balancer, listeners and target groups):
``{"address": "127.x.y.z", "listeners": [...], "target_groups": {...}}``. Each listener listens on
the load balancer's own loopback address at its port: an HTTP listener whose default action is a
redirect answers with the redirect (``#{host}``, ``#{path}``, ``#{query}``, ``#{port}`` filled in as
an ALB does); an HTTPS listener terminates TLS with the certificate ACM holds and forwards the
connection to a target of its target group. Targets are health-checked like a target group does:
a target receives traffic once its health path answered 200 (or when CONFIG names it healthy, as
the ECS scheduler does after its own checks), and leaves rotation after the unhealthy threshold of
failed checks. With no healthy target it answers 503, as an ALB does. CONFIG is re-read when it
changes, so a rolling update moves traffic without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
import sys
from pathlib import Path
from typing import Any

from localcloud.dbproxy import pipe

NO_TARGET = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    b"Connection: close\r\n\r\nno healthy target (503)\n"
)
STATUS_TEXT = {"HTTP_301": b"301 Moved Permanently", "HTTP_302": b"302 Found"}


class TargetGroup:
    def __init__(self) -> None:
        self.targets: list[str] = []
        self.health_path = "/"
        self.interval = 5.0
        self.unhealthy_after = 2
        self.failures: dict[str, int] = {}
        self.healthy: set[str] = set()
        self.counter = itertools.count()
        # The load balancer's address on the VPC network (CONFIG's source_address): connections to
        # targets and health checks leave from there, so the targets' security groups judge the ALB.
        self.local_addr: tuple[str, int] | None = None

    def load(self, data: dict[str, Any], source: str = "") -> None:
        self.local_addr = (source, 0) if source else None
        self.targets = [str(t) for t in data.get("targets", [])]
        self.health_path = str(data.get("health_path", "/"))
        self.interval = float(data.get("interval", 5.0))
        self.unhealthy_after = int(data.get("unhealthy_threshold", 2))
        self.healthy = {t for t in self.healthy if t in self.targets} | {
            t for t in data.get("healthy", []) if t in self.targets
        }

    def pick(self) -> str | None:
        ready = [t for t in self.targets if t in self.healthy]
        return ready[next(self.counter) % len(ready)] if ready else None

    async def probe(self, target: str) -> bool:
        host, port = target.rsplit(":", 1)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), local_addr=self.local_addr), 2
            )
            writer.write(f"GET {self.health_path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 3)
            writer.close()
            return status.split(b" ")[1:2] == [b"200"]
        except (TimeoutError, OSError, IndexError):
            return False

    async def check(self) -> None:
        results = await asyncio.gather(*(self.probe(t) for t in self.targets))
        for target, ok in zip(list(self.targets), results, strict=True):
            if ok:
                self.failures[target] = 0
                self.healthy.add(target)
            else:
                self.failures[target] = self.failures.get(target, 0) + 1
                if self.failures[target] >= self.unhealthy_after:
                    self.healthy.discard(target)


class Balancer:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.mtime = 0.0
        self.data: dict[str, Any] = {}
        self.groups: dict[str, TargetGroup] = {}

    def reload(self) -> None:
        try:
            mtime = self.config.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self.mtime:
            return
        with contextlib.suppress(ValueError, OSError):
            self.data = json.loads(self.config.read_text())
            self.mtime = mtime
            for arn, group in self.data.get("target_groups", {}).items():
                self.groups.setdefault(arn, TargetGroup()).load(group, str(self.data.get("source_address", "")))
            for arn in set(self.groups) - set(self.data.get("target_groups", {})):
                del self.groups[arn]

    async def check_forever(self) -> None:
        while True:
            self.reload()
            await asyncio.gather(*(group.check() for group in self.groups.values()))
            await asyncio.sleep(min([g.interval for g in self.groups.values()] or [2.0]))

    def listener(self, port: int) -> dict[str, Any]:
        self.reload()
        return next((li for li in self.data.get("listeners", []) if int(li["port"]) == port), {})

    async def forward(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        group = self.groups.get(str(self.listener(port).get("target_group", "")))
        target = group.pick() if group else None
        upstream = None
        if target is not None and group is not None:
            host, target_port = target.rsplit(":", 1)
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                connecting = asyncio.open_connection(host, int(target_port), local_addr=group.local_addr)
                upstream = await asyncio.wait_for(connecting, 3)
        if upstream is None:
            writer.write(NO_TARGET)
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def redirect(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        config = self.listener(port).get("redirect", {})
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError, OSError):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.write(redirect_response(head, config, port))
            await writer.drain()
        writer.close()


def redirect_response(head: bytes, config: dict[str, Any], port: int) -> bytes:
    """An ALB redirect action's answer to the request whose head is ``head``."""
    lines = head.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
    path, _, query = target.partition("?")
    host = next((line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("host:")), "")
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    protocol = str(config.get("Protocol", "#{protocol}")).replace("#{protocol}", "http").lower()
    out_port = str(config.get("Port", "#{port}")).replace("#{port}", str(port))
    out_host = str(config.get("Host", "#{host}")).replace("#{host}", host)
    out_path = str(config.get("Path", "/#{path}")).replace("/#{path}", path or "/").replace("#{path}", path.lstrip("/"))
    out_query = str(config.get("Query", "#{query}")).replace("#{query}", query)
    default_port = {"https": "443", "http": "80"}.get(protocol)
    location = f"{protocol}://{out_host}{'' if out_port == default_port else ':' + out_port}{out_path}"
    location += f"?{out_query}" if out_query else ""
    status = STATUS_TEXT.get(str(config.get("StatusCode", "HTTP_301")), STATUS_TEXT["HTTP_301"])
    return (
        b"HTTP/1.1 " + status + b"\r\nLocation: " + location.encode("latin-1") + b"\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n"
    )


async def serve(config: Path) -> None:
    balancer = Balancer(config)
    balancer.reload()
    address = str(balancer.data["address"])
    servers = []
    for listener in balancer.data.get("listeners", []):
        port = int(listener["port"])
        context = None
        if listener.get("protocol") == "HTTPS":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(listener["cert"], listener["key"])
        handler = balancer.redirect if listener.get("redirect") else balancer.forward

        async def handle(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _p: int = port, _h: Any = handler
        ) -> None:
            await _h(_p, reader, writer)

        servers.append(await asyncio.start_server(handle, address, port, ssl=context))
    checker = asyncio.create_task(balancer.check_forever())
    await asyncio.gather(*(s.serve_forever() for s in servers), checker)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    asyncio.run(serve(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
