"""ASGI for Haven's own layers: the one set of types, small request readers, the route class a layer
names for the metrics, and the one way to note the status of an answer as it goes out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final

from haven.web.security import client_address

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The layer that answers a request names its route class here; the metrics layer, outermost, reads
# it when the answer is done. A scope key rather than a return value, so that every layer keeps the
# plain ASGI signature and can be composed like any other middleware.
ROUTE_CLASS: Final = "haven.route_class"
DEFAULT_ROUTE_CLASS: Final = "app"  # what the application behind the front answers


def name_route(scope: Scope, route_class: str) -> None:
    scope[ROUTE_CLASS] = route_class


def route_of(scope: Scope) -> str:
    found: str = scope.get(ROUTE_CLASS, DEFAULT_ROUTE_CLASS)
    return found


class Noted:
    """A ``send`` that notes the status of the answer as it starts (0 until then, and for good when
    nothing was answered) and adds ``headers`` to it: the metrics, the limiter's release and the
    problem page all read the status from one of these."""

    __slots__ = ("headers", "send", "status")

    def __init__(self, send: Send, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self.send = send
        self.headers = headers
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.headers:
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
        await self.send(message)


def read_cookies(scope: Scope) -> dict[str, str]:
    """Haven's own cookies from the request (others are skipped unparsed)."""
    found: dict[str, str] = {}
    for key, value in scope["headers"]:
        if key != b"cookie" or b"haven_" not in value:
            continue
        for part in value.decode("latin-1").split(";"):
            name, _, content = part.strip().partition("=")
            if name.startswith("haven_"):
                found[name] = content
    return found


def header(scope: Scope, name: bytes) -> str:
    """The first value of the request header ``name`` (lower case), or ""."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def client_of(scope: Scope, behind_proxy: bool) -> str:
    """Who sent the request (``security.client_address`` says whose word is taken)."""
    client = scope.get("client")
    forwarded = header(scope, b"x-forwarded-for") if behind_proxy else ""
    return client_address(behind_proxy, forwarded, str(client[0]) if client else None)


def target_length(scope: Scope) -> int:
    """The length of the request target as it came (path and query string), in bytes."""
    return len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
