"""The TCP forwarder that lets the test hosts reach services on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

from localcloud import dbproxy


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_forwarder_passes_bytes_both_ways() -> None:
    async def scenario() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"echo:" + await reader.read(100))
            await writer.drain()
            writer.close()

        target = await asyncio.start_server(echo, "127.0.0.1", 0)
        target_port = target.sockets[0].getsockname()[1]
        listen_port = _free_port()
        proxy = asyncio.create_task(dbproxy.serve("127.0.0.1", listen_port, "127.0.0.1", target_port))
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", listen_port)
        writer.write(b"select 1")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(100), 5)
        writer.close()
        proxy.cancel()
        target.close()
        return answer

    assert asyncio.run(scenario()) == b"echo:select 1"


def test_forwarder_usage_error_without_four_arguments() -> None:
    assert dbproxy.main(["127.0.0.1"]) == 2
