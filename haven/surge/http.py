"""A small HTTP/1.1 client for the surge simulator: one keep-alive connection per visitor, cookies
kept like a browser's, nothing else. It is small on purpose: a general client spends more of the
generator's one core per request, and every microsecond it spends is load it cannot offer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

MAX_HEAD = 64 * 1024


class ConnectionLost(Exception):
    """The server closed or reset the connection before a whole answer arrived."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]  # the Set-Cookie headers, name → value ("" when the cookie is deleted)
    body: bytes
    url: str = ""  # where the answer came from, after redirects (set by the visitor)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Connection:
    host: str
    port: int
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    opened: int = 0  # connections this visitor opened

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        """Send one request and read its answer. A kept-alive connection the server has meanwhile
        closed is reopened once, as browsers do; any other failure raises ``ConnectionLost``."""
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in headers]
        if body or method == "POST":
            head.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        reused = self.writer is not None
        try:
            return await self._exchange(payload, method)
        except (ConnectionLost, OSError, asyncio.IncompleteReadError) as error:
            self.close()
            if not reused:
                raise ConnectionLost(str(error) or type(error).__name__) from error
        try:
            return await self._exchange(payload, method)
        except (ConnectionLost, OSError, asyncio.IncompleteReadError) as error:
            self.close()
            raise ConnectionLost(str(error) or type(error).__name__) from error

    async def _exchange(self, payload: bytes, method: str) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD)
            self.opened += 1
        assert self.reader is not None
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, headers, cookies = parse_head(head)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, cookies, body)

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def parse_head(head: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ConnectionLost(f"not an HTTP answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            cookie, _, cookie_value = pair.partition("=")
            deleted = "max-age=0" in value.lower().replace(" ", "")
            cookies[cookie.strip()] = "" if deleted else cookie_value.strip()
        else:
            headers[name] = value
    return int(parts[1]), headers, cookies


@dataclass
class Browser:
    """What one visitor's browser keeps: a connection and a cookie jar (one site, so no domains)."""

    connection: Connection
    jar: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)  # sent with every request

    @classmethod
    def to(cls, base_url: str, headers: list[tuple[str, str]] | None = None) -> Browser:
        parts = urlsplit(base_url)
        return cls(Connection(parts.hostname or "127.0.0.1", parts.port or 80), headers=headers or [])

    async def send(
        self, method: str, target: str, form: dict[str, str] | None = None, *, cookies: bool = True
    ) -> Response:
        """One request; with ``cookies`` off, none are sent (the public room state is the same
        for everyone, and a cache in front keeps it only for requests without them)."""
        headers = [*self.headers, ("Accept", "text/html,application/json")]
        if self.jar and cookies:
            headers.append(("Cookie", "; ".join(f"{name}={value}" for name, value in self.jar.items())))
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        response = await self.connection.request(method, target, headers, body)
        for name, value in response.cookies.items():
            if value:
                self.jar[name] = value
            else:
                self.jar.pop(name, None)
        return response

    def close(self) -> None:
        self.connection.close()
