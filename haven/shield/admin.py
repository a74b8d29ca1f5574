"""The operators' JSON API for the waiting room, behind a bearer token (``HAVEN_ADMIN_TOKEN``).

``GET /admin/api/room`` reads the room and this worker's view of it; ``POST /admin/api/room`` with
``{"action": ...}`` changes it:

- ``pause``: nobody more is let in from the queue (people already in carry on);
- ``resume``: back to the safety net (queue only when the origin is at capacity);
- ``rate`` with ``"rate": N``: let people in at N per second, whatever the origin's health;
- ``open``: no queue; everyone waiting is let in;
- ``schedule`` with ``"start"`` (ISO 8601 with a time zone) and an optional ``"seed"``: an event.
  Everyone who arrives before the start queues, and their order is drawn at the start from the seed
  (published afterwards, anyone can recompute the draw with ``haven room shuffle``).

Answers are JSON; a bad body is a 422 naming the field. The API bypasses the queue and the limiter
on purpose: operators must be able to act when the site is at its busiest.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final

from haven.shield.room import Room
from haven.shield.store import RoomState, StoreUnavailable
from haven.web.asgi import Receive, Scope, Send
from haven.web.pagecache import NO_STORE

logger = logging.getLogger("haven.shield")

ADMIN_PATH: Final = "/admin/api/room"
MAX_BODY: Final = 4096
MAX_RATE: Final = 1_000_000.0


REPORTS_FRESH: Final = 10.0  # seconds: a worker that has not reported for longer is gone


def report_views(reports: Mapping[str, str]) -> list[dict[str, Any]]:
    """The workers' reports (``Shield.report``, as JSON text) that read as objects."""
    views: list[dict[str, Any]] = []
    for text in reports.values():
        with contextlib.suppress(ValueError):
            found = json.loads(text)
            if isinstance(found, dict):
                views.append(found)
    return views


def cluster_view(reports: dict[str, str]) -> dict[str, Any]:
    """Every worker's last report (``Shield.view``), with the cluster's sums."""
    views = report_views(reports)
    views.sort(key=lambda view: str(view.get("worker", "")))

    def total(name: str) -> float:
        return round(sum(float(view.get(name) or 0) for view in views), 2)

    return {
        "workers": len(views),
        "hosts": len({str(view.get("worker", "")).rsplit("/", 1)[0] for view in views}),
        "degraded": sum(1 for view in views if view.get("degraded")),
        "admission_rate": total("admission_rate"),
        "in_flight": total("in_flight"),
        "admitted": total("admitted"),
        "joins": total("joins"),
        "sheds": total("sheds"),
        "each": views,
    }


def describe(
    room: Room, state: RoomState, extra: dict[str, Any], reports: dict[str, str] | None = None
) -> dict[str, Any]:
    """The room as operators and ``haven room status`` see it: the shared counters, this worker's
    controller, and every worker's last report (the cluster)."""
    return {
        "room": room.settings.name,
        "store": room.shared.name,
        "degraded": room.degraded,
        "mode": state.mode,
        "queueing": state.queueing or state.mode in ("paused", "rate", "event"),
        "fixed_rate": state.rate if state.mode == "rate" else None,
        "event_start": datetime.fromtimestamp(state.event_start).astimezone().isoformat()
        if state.mode == "event"
        else None,
        "event_seed": state.event_seed if state.mode == "event" and state.prequeue >= 0 else None,
        "prequeue": state.prequeue if state.prequeue >= 0 else None,
        "issued": state.issued,
        "serving": state.serving,
        "waiting": state.waiting,
        "active_passes": state.passes,
        "claimed": state.claimed,
        "lapsed": state.lapsed,
        "worker": {
            "admission_rate": round(room.rate, 2),
            "line_speed": round(room.speed, 2),
            "no_show_rate": round(room.no_show, 3),
            "eta_error_median": round(room.eta_error(), 3),
            **extra,
        },
        "cluster": cluster_view(reports or {}),
    }


def controls(state: RoomState) -> dict[str, Any]:
    """What the operators set, as the audit log records it before and after a change."""
    return {
        "mode": state.mode,
        "queueing": state.queueing,
        "rate": state.rate if state.mode == "rate" else None,
        "event_start": datetime.fromtimestamp(state.event_start).astimezone().isoformat()
        if state.mode == "event"
        else None,
        "event_seed": state.event_seed if state.mode == "event" else None,
    }


async def apply(room: Room, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Change the room (for every worker: the shared store) and return its controls before and after."""
    before = controls(await room.store.state(room.name, room.now()))
    await room.store.configure(room.name, **changes)
    room.state = await room.store.state(room.name, room.now())
    logger.warning("waiting room %s: %s", room.settings.name, changes)
    return before, controls(room.state)


# Writes one line of the audit log: who ("the operators' token" for the API), the action, the
# controls before and after, and the client's address.
Audit = Callable[[str, str, dict[str, Any], dict[str, Any], str], Awaitable[None]]


class AdminError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_action(body: bytes) -> dict[str, Any]:
    """Checked changes for ``Store.configure`` from a request body; ``AdminError`` names the field."""
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise AdminError("body", "must be a JSON object") from None
    if not isinstance(data, dict):
        raise AdminError("body", "must be a JSON object")
    return checked_action(data)


def checked_action(data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked changes for ``Store.configure`` from an action and its values (the API's body, the
    console's form); ``AdminError`` names the field."""
    action = data.get("action")
    if action == "pause":
        return {"mode": "paused"}
    if action == "resume":
        return {"mode": "auto"}
    if action == "open":
        return {"mode": "open", "queueing": False}
    if action == "rate":
        rate = data.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_RATE:
            raise AdminError("rate", f"must be a number of people per second above 0, at most {MAX_RATE:g}")
        return {"mode": "rate", "rate": float(rate)}
    if action == "schedule":
        raw = data.get("start")
        try:
            start = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            start = None
        if start is None or start.tzinfo is None:
            raise AdminError(
                "start", "must be a date and time with a time zone, such as 2026-11-03T21:00-05:00"
            )
        seed = data.get("seed") or secrets.token_hex(16)
        if not isinstance(seed, str) or not 1 <= len(seed) <= 200:
            raise AdminError("seed", "must be text of 1 to 200 characters")
        return {"mode": "event", "event_start": start.timestamp(), "event_seed": seed, "queueing": False}
    raise AdminError("action", "must be one of pause, resume, rate, open, schedule")


async def read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it is longer than ``MAX_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def authorised(scope: Scope, token: str) -> bool:
    for key, value in scope["headers"]:
        if key == b"authorization":
            given = value.decode("latin-1")
            return given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())
    return False


async def send_json(
    send: Send, status: int, body: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> int:
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", NO_STORE.encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    return status


async def operate(
    room: Room,
    token: str,
    worker: Callable[[], dict[str, Any]],
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    audit: Audit | None = None,
    address: str = "",
) -> int:
    """Answer one request to the operators' API (``worker``: this worker's side, for the answer;
    ``audit``: where each change is recorded, with the client's ``address``)."""
    if not authorised(scope, token):
        return await send_json(
            send,
            401,
            {"detail": "Give the operators' token: Authorization: Bearer <HAVEN_ADMIN_TOKEN>."},
            [(b"www-authenticate", b'Bearer realm="haven"')],
        )
    method = scope["method"]
    if method not in ("GET", "POST"):
        return await send_json(send, 405, {"detail": "Use GET or POST."}, [(b"allow", b"GET, POST")])
    try:
        if method == "GET":
            state = await room.store.state(room.name, room.now())
            reports = await room.store.reports(room.name, room.now(), REPORTS_FRESH)
            return await send_json(send, 200, describe(room, state, worker(), reports))
        body = await read_body(receive)
        if body is None:
            return await send_json(send, 413, {"detail": "The body is too long."})
        try:
            changes = parse_action(body)
        except AdminError as error:
            detail = [{"loc": ["body", error.field], "msg": str(error), "type": "value_error"}]
            return await send_json(send, 422, {"detail": detail})
        before, after = await apply(room, changes)
        if audit is not None:
            action = str(json.loads(body or b"{}").get("action"))
            await audit("token", action, before, after, address)
        reports = await room.store.reports(room.name, room.now(), REPORTS_FRESH)
        return await send_json(send, 200, describe(room, room.state, worker(), reports))
    except StoreUnavailable:
        return await send_json(
            send, 503, {"detail": "The shared store does not answer."}, [(b"retry-after", b"5")]
        )
