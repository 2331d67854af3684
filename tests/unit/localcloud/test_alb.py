"""The load balancer stand-in against real upstreams on 127.0.0.1: HTTP parsing, the headers an ALB
adds, its own error pages, target health as the target group says, draining, and the web ACL."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from localcloud import alb


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Upstream:
    """A target: answers each request with what it received (JSON), or as ``behaviour`` says."""

    def __init__(self, name: str, behaviour: str = "echo", delay: float = 0.0, health: int = 200) -> None:
        self.name, self.behaviour, self.delay, self.health = name, behaviour, delay, health
        self.port = 0
        self.seen: list[dict[str, Any]] = []
        self.server: asyncio.base_events.Server | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Upstream:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await alb.read_request(reader)
        except (alb.BadRequest, asyncio.IncompleteReadError):
            writer.close()
            return
        if request.path == "/health":
            writer.write(f"HTTP/1.1 {self.health} X\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            writer.close()
            return
        self.seen.append({"path": request.target, "headers": dict(request.headers)})
        if self.behaviour == "silent":
            await asyncio.sleep(30)
        if self.behaviour == "reset":
            writer.close()
            return
        await asyncio.sleep(self.delay)
        body = json.dumps(
            {"target": self.name, "headers": dict(request.headers), "body": request.body.decode()}
        ).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


class Stand:
    """A balancer with one forwarding HTTP listener on 127.0.0.1, configured through its file."""

    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.path = tmp_path / "alb.json"
        self.port = free_port()
        self.config: dict[str, Any] = {
            "address": "127.0.0.1",
            "listeners": [{"port": self.port, "protocol": "HTTP", "target_group": "tg"}],
            "target_groups": {
                "tg": {"targets": [], "healthy": [], "interval": 0.1, "timeout": 0.5, "health_path": "/health"}
            },
            "idle_timeout": 60,
        }
        self.config.update(config)
        self.write()
        self.balancer = alb.Balancer(self.path)

    def group(self, **values: Any) -> None:
        self.config["target_groups"]["tg"].update(values)
        self.write()

    def write(self) -> None:
        self.path.write_text(json.dumps(self.config))
        self.stamp = getattr(self, "stamp", time.time()) + 1  # a new mtime on every write
        os.utime(self.path, (self.stamp, self.stamp))
        if hasattr(self, "balancer"):
            self.balancer.reload()


async def fetch(port: int, raw: bytes, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def get(path: str = "/api/x", extra: str = "", ua: str = "test/1.0") -> bytes:
    agent = f"User-Agent: {ua}\r\n" if ua else ""
    return f"GET {path} HTTP/1.1\r\nHost: example.test\r\n{agent}{extra}\r\n".encode()


def run(
    tmp_path: Path, scenario: Callable[[Stand, list[Upstream]], Awaitable[None]], *ups: Upstream, **config: Any
) -> None:
    async def main() -> None:
        started = [await u.start() for u in ups]
        stand = Stand(tmp_path, **config)
        stand.group(targets=[u.target for u in started], healthy=[u.target for u in started])
        servers = await alb.start(stand.balancer)
        try:
            await scenario(stand, started)
        finally:
            for server in servers:
                server.close()
            for u in started:
                u.close()
            for task in stand.balancer.checkers.values():
                task.cancel()

    asyncio.run(main())


def test_a_request_reaches_the_target_with_the_headers_an_alb_adds(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        status, headers, body = await fetch(stand.port, get(extra="X-Forwarded-For: 203.0.113.7\r\n"))
        assert status == 200 and headers["connection"] == "close"
        seen = json.loads(body)["headers"]
        assert seen["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
        assert seen["X-Forwarded-Proto"] == "http" and seen["X-Forwarded-Port"] == str(stand.port)
        assert seen["X-Amzn-Trace-Id"].startswith("Root=1-") and seen["Connection"] == "close"
        status, _, body = await fetch(stand.port, get(extra="X-Amzn-Trace-Id: Root=1-abc-def\r\n"))
        assert json.loads(body)["headers"]["X-Amzn-Trace-Id"].endswith(";Root=1-abc-def")

    run(tmp_path, scenario, Upstream("a"))


def test_content_length_and_chunked_bodies_reach_the_target_whole(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        raw = b'POST /api/x HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\nContent-Length: 11\r\n\r\n{"a": "bc"}'
        assert json.loads((await fetch(stand.port, raw))[2])["body"] == '{"a": "bc"}'
        chunked = (
            b"POST /api/x HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        )
        answer = json.loads((await fetch(stand.port, chunked))[2])
        assert answer["body"] == "hello world" and answer["headers"]["Content-Length"] == "11"
        assert "Transfer-Encoding" not in answer["headers"]

    run(tmp_path, scenario, Upstream("a"))


def test_malformed_requests_get_the_albs_400(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        for raw in (
            b"GARBAGE\r\n\r\n",
            b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
            b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n",
        ):
            status, headers, body = await fetch(stand.port, raw)
            assert status == 400 and headers["server"] == "awselb/2.0" and b"400 Bad Request" in body
        assert ups[0].seen == []

    run(tmp_path, scenario, Upstream("a"))


def test_requests_go_round_robin_among_healthy_targets(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        names = [json.loads((await fetch(stand.port, get()))[2])["target"] for _ in range(4)]
        assert sorted(names) == ["a", "a", "b", "b"]

    run(tmp_path, scenario, Upstream("a"), Upstream("b"))


def test_the_alb_answers_502_503_and_504_where_an_alb_does(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        stand.group(targets=[ups[0].target], healthy=[ups[0].target])
        assert (await fetch(stand.port, get()))[0] == 502  # the target breaks the connection
        stand.group(targets=[ups[1].target], healthy=[ups[1].target])
        stand.config["idle_timeout"] = 0.5
        stand.write()
        status, _, body = await fetch(stand.port, get())  # no answer within the idle timeout
        assert status == 504 and b"504 Gateway Time-out" in body
        stand.group(targets=[], healthy=[])
        assert (await fetch(stand.port, get()))[0] == 503

    run(tmp_path, scenario, Upstream("reset", "reset"), Upstream("silent", "silent"))


def test_a_refused_connection_is_a_502(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        gone = f"127.0.0.1:{free_port()}"
        stand.group(targets=[gone], healthy=[gone], interval=60)
        assert (await fetch(stand.port, get()))[0] == 502

    run(tmp_path, scenario)


def test_a_new_target_passes_one_check_and_an_unhealthy_one_the_healthy_threshold(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        new, group = ups[0], stand.balancer.groups["tg"]
        stand.group(interval=60)
        await asyncio.sleep(0.3)  # the background checks now wait 60 s: the test checks by hand
        stand.group(targets=[], healthy=[])  # deregistered (nothing in flight: gone at once), then anew
        stand.group(targets=[new.target], healthy=[], healthy_threshold=3, unhealthy_threshold=2)
        state = group.targets[new.target]
        assert state.state == "initial"
        assert (await fetch(stand.port, get()))[0] == 503  # initial: not in rotation yet
        await group.check()  # a registered target must pass one health check to be healthy
        assert state.state == "healthy"
        assert (await fetch(stand.port, get()))[0] == 200
        new.health = 500
        await group.check()
        assert state.state == "healthy"  # one failure is not the threshold
        await group.check()
        assert state.state == "unhealthy"
        new.health = 204
        group.matcher = alb.parse_matcher("200-299")
        for _ in range(2):
            await group.check()
            assert state.state == "unhealthy"  # back only after the healthy threshold (3)
        await group.check()
        assert state.state == "healthy"

    run(tmp_path, scenario, Upstream("a"))


def test_the_matcher_decides_which_codes_are_healthy() -> None:
    assert alb.parse_matcher("200") == {200}
    assert alb.parse_matcher("200,302") == {200, 302}
    assert alb.parse_matcher("200-204") == {200, 201, 202, 203, 204}


def test_with_only_unhealthy_targets_the_alb_fails_open(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        stand.balancer.groups["tg"].targets[ups[0].target].state = "unhealthy"
        assert (await fetch(stand.port, get()))[0] == 200

    run(tmp_path, scenario, Upstream("a", health=500))


def test_a_deregistered_target_gets_no_new_request_and_its_requests_in_flight_finish(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        slow, other = ups
        stand.group(targets=[slow.target], healthy=[slow.target], deregistration_delay=2.0)
        in_flight = asyncio.create_task(fetch(stand.port, get()))
        await asyncio.sleep(0.3)
        stand.group(targets=[other.target], healthy=[other.target])
        assert json.loads((await fetch(stand.port, get()))[2])["target"] == "other"
        status, _, body = await in_flight
        assert status == 200 and json.loads(body)["target"] == "slow"

    run(tmp_path, scenario, Upstream("slow", delay=1.0), Upstream("other"))


def test_requests_still_in_flight_after_the_deregistration_delay_are_cut(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        slow, other = ups
        stand.group(targets=[slow.target], healthy=[slow.target], deregistration_delay=0.3)
        in_flight = asyncio.create_task(fetch(stand.port, get()))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        stand.group(targets=[other.target], healthy=[other.target])
        with pytest.raises((IndexError, ValueError)):
            await in_flight  # the connection closes without an answer
        assert time.monotonic() - started < 3

    run(tmp_path, scenario, Upstream("slow", delay=5.0), Upstream("other"))


RATE_ACL = {
    "Name": "acl",
    "DefaultAction": {"Allow": {}},
    "Rules": [
        {
            "Name": "aws-common",
            "Priority": 0,
            "OverrideAction": {"None": {}},
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}},
        },
        {
            "Name": "rate",
            "Priority": 1,
            "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": {"Limit": 10, "AggregateKeyType": "IP"}},
        },
    ],
}


def test_the_web_acl_blocks_before_the_target_and_its_rate_rule_counts_per_client(tmp_path: Path) -> None:
    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        status, headers, body = await fetch(stand.port, get(ua=""))  # NoUserAgent_HEADER
        assert status == 403 and b"403 Forbidden" in body and headers["server"] == "awselb/2.0"
        assert ups[0].seen == []
        statuses = [(await fetch(stand.port, get(), source="127.0.0.2"))[0] for _ in range(11)]
        assert statuses == [200] * 10 + [403]  # over 10 in the window
        assert (await fetch(stand.port, get(), source="127.0.0.3"))[0] == 200  # another client
        assert (await fetch(stand.port, get(), source="127.0.0.2"))[0] == 403

    run(tmp_path, scenario, Upstream("a"), web_acl=RATE_ACL)


def test_the_web_acl_also_guards_the_redirect_listener(tmp_path: Path) -> None:
    redirect_port = free_port()
    listeners = [
        {"port": redirect_port, "protocol": "HTTP", "redirect": {"Protocol": "HTTPS", "Port": "443"}},
    ]

    async def scenario(stand: Stand, ups: list[Upstream]) -> None:
        status, headers, _ = await fetch(redirect_port, get("/health?x=1"))
        assert status == 301 and headers["location"] == "https://example.test/health?x=1"
        assert (await fetch(redirect_port, get(ua="")))[0] == 403  # NoUserAgent_HEADER, before the redirect

    async def main() -> None:
        stand = Stand(tmp_path, web_acl=RATE_ACL)
        stand.config["listeners"] += listeners
        stand.write()
        servers = await alb.start(stand.balancer)
        try:
            await scenario(stand, [])
        finally:
            for server in servers:
                server.close()

    asyncio.run(main())
