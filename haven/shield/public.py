"""The room's public state: one cookie-free document per tick, the same bytes for everyone.

A waiting page knows its own place number (it is in the page). With this document it works out its
position (``number - serving``) and its wait by itself, so the million people in a line cost the
origin one request a second per cache in front of it (nginx, a CDN), not one request per person per
check. The document carries what that takes: the counter, how fast it moves (and the model's slow
and fast ends), the no-show share, the room's mode and when it was computed. ``GET
/api/v1/waiting-room/state`` answers it as finished bytes (``Cache-Control: public, max-age=1``, a
strong ETag, 304 on revalidation), before any other layer.

The wait of someone ``ahead`` places from the front, everywhere it is shown (the server, the page's
script, the surge simulator), is ``eta.wait_range(ahead, speed_low, speed_high, tick_seconds)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from haven.shield.eta import wait_range
from haven.shield.store import Mode
from haven.web.pagecache import CachedResponse, build

STATE_PATH: Final = "/api/v1/waiting-room/state"
STATE_CACHE: Final = "public, max-age=1, stale-while-revalidate=2, stale-if-error=30"
# What a worker that has never yet read the shared room answers (just started while Redis is out of
# reach, say): not a line of its own numbers, which would look to everyone as if the line moved back.
NOT_YET: Final = build(
    b'{"error": {"status": 503, "message": "The waiting room\'s state is not known here yet. Try again '
    b'after the seconds in Retry-After."}}',
    content_type="application/json",
    cache_control="no-store",
    status=503,
    route_class="room-state",
    extra_headers={"Retry-After": "1"},
)
Status = Literal["normal", "busy", "queueing", "paused", "before-opening"]
STATUSES: Final[tuple[Status, ...]] = ("normal", "busy", "queueing", "paused", "before-opening")


@dataclass(frozen=True)
class PublicState:
    """What anyone may know about the room at one tick."""

    room: str
    status: Status
    mode: Mode
    queueing: bool  # new visitors are given a place in the queue now
    serving: int  # places numbered up to this one may enter
    issued: int
    waiting: int  # people in line: issued - serving (no-shows included)
    speed: float  # places per second the counter moves now, all workers
    speed_low: float  # the model's slow end (about its 20th percentile)
    speed_high: float  # and its fast end (about its 80th)
    no_show: float
    tick_seconds: float
    place_kept_seconds: int
    opens_at: float | None  # event mode: the start (wall clock)
    computed_at: float  # wall clock
    response: CachedResponse = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "response",
            build(
                self.body(),
                content_type="application/json",
                cache_control=STATE_CACHE,
                route_class="room-state",
            ),
        )

    def wait_range(self, ahead: int) -> tuple[float, float]:
        """The wait, low and high, of someone ``ahead`` places from the front (see ``eta``)."""
        return wait_range(ahead, self.speed_low, self.speed_high, self.tick_seconds)

    def document(self) -> dict[str, object]:
        return {
            "room": self.room,
            "status": self.status,
            "mode": self.mode,
            "queueing": self.queueing,
            "serving": self.serving,
            "issued": self.issued,
            "waiting": self.waiting,
            "speed": round(self.speed, 3),
            "speed_low": round(self.speed_low, 3),
            "speed_high": round(self.speed_high, 3),
            "no_show": round(self.no_show, 3),
            "tick_seconds": self.tick_seconds,
            "place_kept_seconds": self.place_kept_seconds,
            "opens_at": _iso(self.opens_at) if self.opens_at else None,
            "computed_at": _iso(self.computed_at),
            "computed_at_ms": round(self.computed_at * 1000),
        }

    def body(self) -> bytes:
        return json.dumps(self.document(), separators=(",", ":")).encode()

    @property
    def etag(self) -> str:
        return self.response.plain.etag.decode()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
