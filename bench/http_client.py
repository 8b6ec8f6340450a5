"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load that costs the machine little.

A general client (httpx) spends about a millisecond of CPU per request: on a 2-core machine the load
generator would then take the CPU the server needs, and the ceiling it measures would be its own.
This one writes a request and reads `Content-Length` or chunked bodies, nothing else (no redirects,
no TLS, no pooling): one instance is one connection, used by one client at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """What the server answered."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and the headers (names lower-cased) of a response head, up to its blank line."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


class Connection:
    """One keep-alive connection to `host:port`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader, self._writer, self._host = reader, writer, host.encode()

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        """Connect (asyncio sets TCP_NODELAY on TCP sockets)."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def request(self, method: str, path: str, *, headers: bytes = b"", body: bytes = b"") -> Answer:
        """Send one request (`headers`: ready-made `Name: value\\r\\n` lines) and read the whole answer."""
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n" % (
            method.encode(), path.encode(), self._host, len(body), headers,
        )
        self._writer.write(head + body)
        status, fields = parse_head(await self._reader.readuntil(b"\r\n\r\n"))
        if "content-length" in fields:
            content = await self._reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            content = await self._chunks()
        else:
            content = b""
        return Answer(status, fields, content)

    async def _chunks(self) -> bytes:
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers are sent to us
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass


def header_lines(headers: dict[str, str]) -> bytes:
    """`{"Authorization": "Bearer …"}` as the lines `Connection.request` takes."""
    return b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items())
