"""A Haven whose dynamic side is a stub, with the real shield in front: the shield's behaviour without
a database. Ticks of the room are run by hand, so tests decide when the line moves."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from haven.app import Haven, compose
from haven.shield.core import HASH_WAIT, Shield
from haven.shield.limiter import Limiter
from haven.shield.store import Store
from haven.shield.store.memory import MemoryStore
from haven.web.asgi import ASGIApp, Receive, Scope, Send
from tests.conftest import make_settings

ADDRESS = "198.51.100.20"


async def stub(scope: Scope, receive: Receive, send: Send) -> None:
    """The application behind the shield: says which path it served."""
    body = json.dumps({"served": scope["path"], "method": scope["method"]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def gated(
    app: Haven,
    var_dir: Path,
    *,
    store: Store | None = None,
    limiter: Limiter | None = None,
    hash_wait: float = HASH_WAIT,
    behind: ASGIApp = stub,
    **env: str,
) -> Haven:
    """A Haven sharing ``app``'s finished site, with a fresh shield (none with HAVEN_SHIELD=false)
    and ``behind`` (the stub) as its application, stacked as ``create_app`` stacks it."""
    settings = make_settings(var_dir, **env)
    shield = (
        Shield(
            settings,
            app.site,
            app.site.busy.body,
            store or MemoryStore(),
            limiter=limiter,
            hash_wait=hash_wait,
        )
        if settings.shield
        else None
    )
    return compose(settings, app.clock, app.site, app.responses, app.query_pages, behind, shield=shield)


@asynccontextmanager
async def browser(
    haven: Haven, address: str = ADDRESS, base_url: str = "http://haven.test"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar, coming from ``address`` (over TLS when ``base_url`` is https)."""
    transport = httpx.ASGITransport(app=haven, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


def admin_headers(haven: Haven) -> dict[str, str]:
    return {"Authorization": f"Bearer {haven.settings.admin_token}"}


async def steer(haven: Haven, **body: object) -> dict[str, object]:
    async with browser(haven, "127.0.0.1") as client:
        answer = await client.post("/admin/api/room", json=body, headers=admin_headers(haven))
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def position_in(html: str) -> int:
    found = re.search(r"Your place in the queue: ([0-9,]+)", html)
    assert found, "no place on this page"
    return int(found.group(1).replace(",", ""))


async def until(condition: Callable[[], bool], *, steps: int = 10_000) -> None:
    """Let the other tasks of this loop run until ``condition`` holds; fail if it never does (they
    all wait on something else) rather than hang."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)  # a turn of the loop for the others, not a wait on the clock
    raise AssertionError(f"still not so after {steps} turns of the event loop")


async def tick(haven: Haven) -> None:
    """One tick of the room and the hooks after it, as the shield's ticker runs them (without its
    clock)."""
    shield = haven.shield
    assert shield is not None
    await shield.room.tick()
    for hook in shield.after_tick:
        await hook(shield.room.public)
