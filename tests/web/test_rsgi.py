"""The RSGI side of Haven: the ASGI bridge with stand-in RSGI objects, and finished pages straight
through RSGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from haven.app import Haven
from haven.web.asgi import Message, Receive, Scope, Send
from haven.web.rsgi import call_asgi


class Headers:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, key: str, default: Any = None) -> Any:
        return next((value for name, value in self.pairs if name == key), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self.pairs)


@dataclass
class FakeScope:
    path: str
    method: str = "GET"
    query_string: str = ""
    header_pairs: list[tuple[str, str]] = field(default_factory=list)
    proto: str = "http"
    http_version: str = "1.1"
    scheme: str = "http"
    server: str = "127.0.0.1:8000"
    client: str = "127.0.0.1:50000"

    @property
    def headers(self) -> Headers:
        return Headers(self.header_pairs)


class FakeStream:
    def __init__(self, protocol: FakeProtocol) -> None:
        self.protocol = protocol

    async def send_bytes(self, data: bytes) -> None:
        self.protocol.body += data


class FakeProtocol:
    def __init__(self, chunks: list[bytes] | None = None) -> None:
        self.chunks = chunks or []
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.streamed = False
        self.calls = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in self.chunks:
                yield chunk

        return chunks()

    async def client_disconnect(self) -> None:
        return None

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.calls += 1
        self.status, self.headers, self.body = status, headers, body

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> FakeStream:
        self.calls += 1
        self.status, self.headers, self.streamed = status, headers, True
        return FakeStream(self)


async def test_the_bridge_streams_the_request_body_in_and_sends_one_response() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["path"] == "/api/v1/crs"
        assert scope["query_string"] == b"a=%20b"
        assert (b"content-type", b"application/json") in scope["headers"]
        while True:
            message = await receive()
            seen.append(message)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-test", b"yes")]})
        await send({"type": "http.response.body", "body": b"done"})

    protocol = FakeProtocol([b'{"a":', b"1}"])
    scope = FakeScope("/api/v1/crs", "POST", "a=%20b", [("content-type", "application/json")])
    await call_asgi(app, scope, protocol)
    assert b"".join(m.get("body", b"") for m in seen) == b'{"a":1}'
    assert (protocol.status, protocol.headers, protocol.body) == (201, [("x-test", "yes")], b"done")
    assert protocol.calls == 1


async def test_the_bridge_streams_a_streamed_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"a", b"b", b""):
            await send({"type": "http.response.body", "body": part, "more_body": part != b""})

    protocol = FakeProtocol()
    await call_asgi(app, FakeScope("/x"), protocol)
    assert protocol.streamed
    assert protocol.body == b"ab"


async def test_an_application_that_answers_nothing_gets_a_500_not_a_hang() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    protocol = FakeProtocol()
    await call_asgi(app, FakeScope("/x"), protocol)
    assert protocol.status == 500


async def test_finished_pages_go_straight_through_rsgi(app: Haven) -> None:
    protocol = FakeProtocol()
    await app.__rsgi__(FakeScope("/fr/etudier", header_pairs=[("accept-encoding", "gzip")]), protocol)
    assert protocol.status == 200
    assert ("content-encoding", "gzip") in protocol.headers
    etag = dict(protocol.headers)["etag"]
    again = FakeProtocol()
    await app.__rsgi__(
        FakeScope("/fr/etudier", header_pairs=[("accept-encoding", "gzip"), ("if-none-match", etag)]), again
    )
    assert (again.status, again.body) == (304, b"")
    head = FakeProtocol()
    await app.__rsgi__(FakeScope("/fr/etudier", "HEAD"), head)
    assert (head.status, head.body) == (200, b"")
    post = FakeProtocol()
    await app.__rsgi__(FakeScope("/fr/etudier", "POST"), post)
    assert post.status == 405


async def test_other_requests_take_the_asgi_path_through_the_bridge(app: Haven) -> None:
    protocol = FakeProtocol()
    await app.__rsgi__(FakeScope("/healthz"), protocol)
    assert (protocol.status, protocol.body) == (200, b"ok\n")
    missing = FakeProtocol()
    await app.__rsgi__(FakeScope("/en/nowhere"), missing)
    assert missing.status == 404
