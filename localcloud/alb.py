"""``python -m localcloud.alb CONFIG``: the local stand-in of one Application Load Balancer.

CONFIG (written by ``localcloud.elb`` from the emulator's load balancer, listeners, target groups and
web ACL): ``{"address": "127.x.y.z", "listeners": [...], "target_groups": {...}, "web_acl": {...}}``.
Each listener listens on the load balancer's own loopback address at its port:

- an HTTP listener whose default action is a redirect answers with the redirect (``#{host}``,
  ``#{path}``, ``#{query}``, ``#{port}`` filled in as an ALB does), once the web ACL let the
  request through (AWS WAF sees every request to the load balancer, on every listener);
- an HTTPS listener terminates TLS with the certificate ACM holds; a forwarding listener then reads
  each HTTP/1.1 request (``Content-Length`` or chunked body), applies the web ACL (``localcloud.waf``),
  adds ``X-Forwarded-For`` (the client appended), ``X-Forwarded-Proto``, ``X-Forwarded-Port`` and
  ``X-Amzn-Trace-Id`` and sends it to one target of its target group, round robin among the healthy
  ones. It answers as an ALB: 400 to a malformed request, 502 when the target refuses or breaks the
  connection, 503 with no target to send to, 504 when the target does not answer within the idle
  timeout. One request per client connection (``Connection: close``).

Target health as the target group says: a registered target is ``initial`` until it passed the
healthy threshold of checks (``health_path`` answering a ``matcher`` code within ``timeout``, every
``interval``), ``unhealthy`` after the unhealthy threshold of failures; CONFIG's ``healthy`` names
targets the ECS scheduler already checked (in rotation at once). With only unhealthy targets the
load balancer fails open and uses them all, as an ALB does. A target that leaves the target group
drains: no new request, and the requests in flight get ``deregistration_delay`` seconds to finish.
CONFIG is re-read when it changes, so a rolling update moves traffic without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import secrets
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.waf import WebAcl, WebRequest

STATUS_TEXT = {"HTTP_301": b"301 Moved Permanently", "HTTP_302": b"302 Found"}
REASONS = {
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}
LINE_LIMIT = 16 * 1024  # an ALB's limits: 16 KB request line or header, 64 KB of headers
HEAD_LIMIT = 64 * 1024
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


class BadRequest(Exception):
    pass


def alb_page(status: int, content_type: str = "text/html", body: bytes | None = None) -> bytes:
    """An answer of the load balancer itself, with the page an ALB shows."""
    reason = REASONS.get(status, "Error")
    if body is None:
        body = (
            f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
        ).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nServer: awselb/2.0\r\nDate: {http_date()}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def http_date() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


async def read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]]:
    """The start line and the header fields of an HTTP/1.1 message (BadRequest past an ALB's limits)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("header too large") from exc
    if len(head) > HEAD_LIMIT:
        raise BadRequest("header too large")
    lines = head[:-4].decode("latin-1").split("\r\n")
    if any(len(line) > LINE_LIMIT for line in lines):
        raise BadRequest("line too long")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(f"malformed header line {line[:40]!r}")
        headers.append((name, value.strip()))
    return lines[0], headers


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None = None) -> Request:
    start, headers = await read_head(reader)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1] or not parts[0].isalpha():
        raise BadRequest(f"malformed request line {start[:60]!r}")
    request = Request(parts[0], parts[1], parts[2], headers)
    if writer is not None and (request.header("Expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    encoding = (request.header("Transfer-Encoding") or "").lower()
    if encoding:
        if encoding != "chunked":
            raise BadRequest(f"transfer encoding {encoding}")
        request.body = await read_chunked(reader)
    elif (length := request.header("Content-Length")) is not None:
        if not length.isdigit():
            raise BadRequest("bad Content-Length")
        request.body = await reader.readexactly(int(length))
    return request


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError as exc:
            raise BadRequest("bad chunk size") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise BadRequest("bad chunk")


def trace_id(existing: str | None) -> str:
    """X-Amzn-Trace-Id: a new Root, or the client's with this hop as Self (as an ALB adds it)."""
    stamp = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    if existing and "Root=" in existing:
        return f"Self={stamp};{existing}"
    return f"Root={stamp}"


def upstream_request(
    request: Request,
    client_ip: str,
    proto: str,
    port: int,
    *,
    drop_invalid: bool = False,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    """The request as the ALB sends it to a target."""
    headers: list[tuple[str, str]] = []
    forwarded_for = None
    for name, value in request.headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in ("x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"):
            continue
        if lower == "x-forwarded-for":
            forwarded_for = value if forwarded_for is None else f"{forwarded_for}, {value}"
            continue
        if drop_invalid and not HEADER_NAME.match(name):
            continue  # routing.http.drop_invalid_header_fields.enabled
        headers.append((name, value))
    headers += extra or []
    headers.append(("X-Forwarded-For", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip))
    headers.append(("X-Forwarded-Proto", proto))
    headers.append(("X-Forwarded-Port", str(port)))
    headers.append(("X-Amzn-Trace-Id", trace_id(request.header("X-Amzn-Trace-Id"))))
    if request.body or request.method.upper() in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(len(request.body))))
    headers.append(("Connection", "close"))
    head = f"{request.method} {request.target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (head + "\r\n").encode("latin-1") + request.body


async def open_upstream(
    target: str, timeout: float, source_address: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Every connection to a target (requests and health checks) opens here; ``source_address``
    is the address the load balancer connects from, when CONFIG names one."""
    host, port = target.rsplit(":", 1)
    local = (source_address, 0) if source_address else None
    return await asyncio.wait_for(asyncio.open_connection(host, int(port), local_addr=local), timeout)


def parse_matcher(codes: str) -> set[int]:
    """A target group's HttpCode matcher: ``200``, ``200,202`` or ``200-299``."""
    wanted: set[int] = set()
    for part in str(codes or "200").split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit():
            wanted.update(range(int(low), int(high or low) + 1))
    return wanted or {200}


@dataclass
class TargetState:
    state: str = "initial"  # initial | healthy | unhealthy | draining
    successes: int = 0
    failures: int = 0
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    drained_at: float = 0.0


class TargetGroup:
    def __init__(self, source_address: str | None = None) -> None:
        self.targets: dict[str, TargetState] = {}
        self.health_path = "/"
        self.interval = 5.0
        self.timeout = 2.0
        self.healthy_after = 5
        self.unhealthy_after = 2
        self.matcher = {200}
        self.deregistration_delay = 0.0
        self.source_address = source_address
        self.counter = itertools.count()

    def load(self, data: dict[str, Any]) -> None:
        self.health_path = str(data.get("health_path", "/"))
        self.interval = float(data.get("interval", 5.0))
        self.timeout = float(data.get("timeout", min(self.interval, 5.0)))
        self.healthy_after = int(data.get("healthy_threshold", 5))
        self.unhealthy_after = int(data.get("unhealthy_threshold", 2))
        self.matcher = parse_matcher(str(data.get("matcher", "200")))
        self.deregistration_delay = float(data.get("deregistration_delay", 0.0))
        wanted = [str(t) for t in data.get("targets", [])]
        checked = {str(t) for t in data.get("healthy", [])}
        for target in wanted:
            known = self.targets.get(target)
            if known is None or known.state == "draining":
                self.targets[target] = TargetState(state="healthy" if target in checked else "initial")
            elif target in checked and known.state == "initial":
                known.state = "healthy"
        for target, known in list(self.targets.items()):
            if target not in wanted and known.state != "draining":
                self.drain(target, known)

    def drain(self, target: str, known: TargetState) -> None:
        """Deregistered: no new request; the ones in flight get the deregistration delay."""
        known.state = "draining"
        known.drained_at = time.monotonic()
        if not known.in_flight:
            del self.targets[target]
            return
        loop = asyncio.get_running_loop()
        loop.call_later(self.deregistration_delay, self.drained, target, known)

    def drained(self, target: str, known: TargetState) -> None:
        for task in list(known.in_flight):
            task.cancel()
        if self.targets.get(target) is known:
            del self.targets[target]

    def pick(self) -> str | None:
        ready = [t for t, s in self.targets.items() if s.state == "healthy"]
        if not ready:  # fail open: only unhealthy targets left, the ALB uses them all
            live = [s.state for s in self.targets.values() if s.state != "draining"]
            if live and all(state == "unhealthy" for state in live):
                ready = [t for t, s in self.targets.items() if s.state == "unhealthy"]
        ready.sort()
        return ready[next(self.counter) % len(ready)] if ready else None

    async def probe(self, target: str) -> bool:
        host = target.rsplit(":", 1)[0]
        writer = None
        try:
            reader, writer = await open_upstream(target, self.timeout, self.source_address)
            writer.write(
                f"GET {self.health_path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ELB-HealthChecker/2.0\r\n"
                "Accept-Encoding: gzip, compressed\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), self.timeout)
            code = status.split(b" ")[1:2]
            return bool(code) and code[0].isdigit() and int(code[0]) in self.matcher
        except (TimeoutError, OSError, IndexError, ValueError):
            return False
        finally:
            if writer is not None:
                writer.close()

    async def check(self) -> None:
        checked = [t for t, s in self.targets.items() if s.state != "draining"]
        results = await asyncio.gather(*(self.probe(t) for t in checked))
        for target, ok in zip(checked, results, strict=True):
            known = self.targets.get(target)
            if known is None or known.state == "draining":
                continue
            if ok:
                known.failures, known.successes = 0, known.successes + 1
                # A newly registered target needs one passing check; an unhealthy one the healthy
                # threshold (ELB User Guide, "Health checks for Application Load Balancer target groups").
                if known.state == "initial" or known.successes >= self.healthy_after:
                    known.state = "healthy"
            else:
                known.successes, known.failures = 0, known.failures + 1
                if known.failures >= self.unhealthy_after:
                    known.state = "unhealthy"

    async def check_forever(self) -> None:
        while True:
            started = time.monotonic()
            await self.check()
            await asyncio.sleep(max(self.interval - (time.monotonic() - started), 0.05))


class Balancer:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.mtime = 0.0
        self.data: dict[str, Any] = {}
        self.groups: dict[str, TargetGroup] = {}
        self.checkers: dict[str, asyncio.Task[None]] = {}
        self.waf = WebAcl()

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
            self.waf.load(self.data.get("web_acl"))
            source = self.data.get("source_address")
            for arn, group in self.data.get("target_groups", {}).items():
                known = self.groups.setdefault(arn, TargetGroup(source))
                known.source_address = source
                known.load(group)
                if arn not in self.checkers:
                    self.checkers[arn] = asyncio.get_running_loop().create_task(known.check_forever())
            for arn in set(self.groups) - set(self.data.get("target_groups", {})):
                del self.groups[arn]
                self.checkers.pop(arn).cancel()

    async def watch(self) -> None:
        while True:
            self.reload()
            await asyncio.sleep(0.2)

    def listener(self, port: int) -> dict[str, Any]:
        self.reload()
        return next((li for li in self.data.get("listeners", []) if int(li["port"]) == port), {})

    async def forward(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener = self.listener(port)
        proto = "https" if listener.get("protocol") == "HTTPS" else "http"
        peer = writer.get_extra_info("peername") or ("", 0)
        try:
            try:
                request = await asyncio.wait_for(read_request(reader, writer), self.idle_timeout)
            except BadRequest:
                writer.write(alb_page(400))
                return
            except (asyncio.IncompleteReadError, TimeoutError, asyncio.LimitOverrunError):
                return
            refusal, inserted = self.blocked(request, peer[0])
            if refusal is not None:
                writer.write(refusal)
                return
            group = self.groups.get(str(listener.get("target_group", "")))
            target = group.pick() if group else None
            if group is None or target is None:
                writer.write(alb_page(503))
                return
            outgoing = upstream_request(
                request,
                peer[0],
                proto,
                port,
                drop_invalid=bool(self.data.get("drop_invalid_header_fields")),
                extra=inserted,
            )
            await self.relay(group, target, outgoing, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
            writer.close()

    @property
    def idle_timeout(self) -> float:
        return float(self.data.get("idle_timeout", 60))

    async def relay(self, group: TargetGroup, target: str, outgoing: bytes, writer: asyncio.StreamWriter) -> None:
        """Send one request to ``target`` and its answer back; the task counts as in flight there."""
        state = group.targets[target]
        task = asyncio.current_task()
        assert task is not None
        state.in_flight.add(task)
        try:
            try:
                up_reader, up_writer = await open_upstream(target, 10, group.source_address)
            except TimeoutError:  # no connection within the ALB's 10 s connection timeout
                writer.write(alb_page(504))
                return
            except OSError:  # refused or reset
                writer.write(alb_page(502))
                return
            try:
                up_writer.write(outgoing)
                with contextlib.suppress(ConnectionError):
                    await up_writer.drain()  # a target may answer (413) and close before reading it all
                try:
                    status, headers = await asyncio.wait_for(read_head(up_reader), self.idle_timeout)
                except TimeoutError:
                    writer.write(alb_page(504))
                    return
                except (BadRequest, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    writer.write(alb_page(502))
                    return
                if not status.startswith("HTTP/1."):
                    writer.write(alb_page(502))
                    return
                kept = [(k, v) for k, v in headers if k.lower() not in ("connection", "keep-alive")]
                head = status + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept) + "Connection: close\r\n\r\n"
                writer.write(head.encode("latin-1"))
                while chunk := await asyncio.wait_for(up_reader.read(65536), self.idle_timeout):
                    writer.write(chunk)
                    await writer.drain()
            finally:
                up_writer.close()
        except asyncio.CancelledError:  # drained past the deregistration delay: the connection ends
            pass
        finally:
            state.in_flight.discard(task)

    def blocked(self, request: Request, client_ip: str) -> tuple[bytes | None, list[tuple[str, str]]]:
        """The web ACL's answer when it blocks ``request``, and the headers an allowing rule inserts.
        AWS WAF sees every request to the load balancer, whatever the listener does with it."""
        verdict = self.waf.evaluate(
            WebRequest(request.method, request.path, request.query, request.headers, request.body, client_ip)
        )
        if verdict.allowed:
            return None, verdict.request_headers
        answer = alb_page(verdict.status, verdict.content_type, verdict.body)
        if verdict.headers:
            head, _, rest = answer.partition(b"\r\n")
            answer = head + b"\r\n" + "".join(f"{k}: {v}\r\n" for k, v in verdict.headers).encode() + rest
        return answer, []

    async def redirect(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        config = self.listener(port).get("redirect", {})
        peer = writer.get_extra_info("peername") or ("", 0)
        try:
            request = await asyncio.wait_for(read_request(reader, writer), self.idle_timeout)
            refusal, _ = self.blocked(request, peer[0])
            head = f"{request.method} {request.target} HTTP/1.1\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in request.headers
            )
            writer.write(refusal or redirect_response(head.encode("latin-1") + b"\r\n", config, port))
        except BadRequest:
            writer.write(alb_page(400))
        except (TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
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
        b"HTTP/1.1 "
        + status
        + b"\r\nServer: awselb/2.0\r\nLocation: "
        + location.encode("latin-1")
        + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )


async def start(balancer: Balancer) -> list[asyncio.base_events.Server]:
    """Listen on every listener of CONFIG (tests call it with a balancer of their own)."""
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

        servers.append(await asyncio.start_server(handle, address, port, ssl=context, limit=HEAD_LIMIT + 1024))
    return servers


async def serve(config: Path) -> None:
    balancer = Balancer(config)
    servers = await start(balancer)
    await asyncio.gather(*(s.serve_forever() for s in servers), balancer.watch())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(serve(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
