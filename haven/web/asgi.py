"""ASGI type aliases and small request readers shared by Haven's raw handlers (the gate, the page
cache, the ops endpoints)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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
