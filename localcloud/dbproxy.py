"""``python -m localcloud.dbproxy LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT [SOURCE_HOST]``.

A plain TCP forwarder: the test hosts reach a database at the address of its endpoint on the VPC's
Docker network (the endpoint's names point there) and this passes the bytes on to the local
PostgreSQL cluster on 127.0.0.1. The RDS Proxy stand-in is one too, from its own address to the
database's, its connections leaving from SOURCE_HOST (its own address): the database's security
group then judges the proxy as on AWS. It never listens on 0.0.0.0.
"""

from __future__ import annotations

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes one way until the reader ends, then close the writer."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(listen_host: str, listen_port: int, target_host: str, target_port: int, source: str = "") -> None:
    local_addr = (source, 0) if source else None

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            # A security group drops silently: give up as a client would, not never.
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(target_host, target_port, local_addr=local_addr), 30
            )
        except (OSError, TimeoutError):
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, listen_host, listen_port)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    asyncio.run(serve(args[0], int(args[1]), args[2], int(args[3]), *args[4:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
