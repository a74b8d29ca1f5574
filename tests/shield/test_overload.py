"""The shield against a deliberately slow application, with a crowd arriving in real time: with it,
every request is answered, served or turned away with 503 + Retry-After, and the room queues the
newcomers once the origin is full; without it, nothing is turned away. These tests check what
happens, not how fast: latencies and throughput are measured by ``bench/overload.py``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from haven.app import Haven
from haven.web.asgi import Message, Receive, Scope, Send
from tests.shield.gate_kit import gated

CAPACITY = 8  # requests the application serves at once
BASE = 0.02  # seconds each takes: 400 a second at most
OVERLOAD = 3.0  # arrivals at three times that
SECONDS = 2.0
WARM_UP = 1.0
HANG = 120.0  # seconds after which a crowd not yet answered in full has hung (it takes about 3)


class SlowApp:
    """Serves CAPACITY requests at a time; the rest wait inside it, as a saturated server's do."""

    def __init__(self) -> None:
        self.slots = asyncio.Semaphore(CAPACITY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self.slots:
            await asyncio.sleep(BASE)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Outcome:
    status: int = 0  # 0: no answer started
    answered: bool = False  # the whole answer was sent
    headers: dict[bytes, bytes] = field(default_factory=dict)


async def visit(haven: Haven, number: int, outcome: Outcome) -> None:
    scope: Scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/en/account/sign-up",
        "raw_path": b"/en/account/sign-up",
        "query_string": b"",
        "headers": [(b"host", b"haven.test")],
        "client": (f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}", 40000),
        "server": ("haven.test", 80),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            outcome.status = message["status"]
            outcome.headers = dict(message["headers"])
        elif not message.get("more_body"):
            outcome.answered = True

    await haven(scope, receive, send)


async def crowd(haven: Haven) -> list[Outcome]:
    """An open crowd: arrivals on a schedule, whatever the answers do. A quiet second at half the
    capacity first (an evening starts quiet: the limiter learns what normal looks like), then the
    surge. Only the surge's outcomes are returned."""
    loop = asyncio.get_running_loop()
    capacity = CAPACITY / BASE
    schedule: list[float] = []
    at = loop.time() + 0.05
    for rate, seconds in ((0.5 * capacity, WARM_UP), (OVERLOAD * capacity, SECONDS)):
        schedule += [at + i / rate for i in range(int(rate * seconds))]
        at += seconds
    outcomes = [Outcome() for _ in schedule]
    tasks = []
    for number, (intended, outcome) in enumerate(zip(schedule, outcomes, strict=True)):
        await asyncio.sleep(max(0.0, intended - loop.time()))  # the arrival schedule, not a wait
        tasks.append(asyncio.create_task(visit(haven, number, outcome)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=HANG)  # a hang guard, not a speed limit
    return outcomes[int(0.5 * capacity * WARM_UP) :]


async def test_with_the_shield_every_request_is_answered_and_the_surplus_turned_away(
    app: Haven, tmp_path: Path
) -> None:
    # Every arrival is a new visitor, so the room's idle rate must let the quiet second in.
    haven = gated(app, tmp_path / "var", behind=SlowApp(), HAVEN_ADMIT_START=str(round(CAPACITY / BASE)))
    assert haven.shield is not None
    haven.shield.start()
    try:
        outcomes = await crowd(haven)
    finally:
        await haven.shield.stop()
    assert all(o.answered for o in outcomes)  # nothing left hanging
    served = [o for o in outcomes if o.status == 200]
    turned_away = [o for o in outcomes if o.status == 503]
    assert len(served) + len(turned_away) == len(outcomes)  # no other status: no errors
    assert served  # the application was kept working
    assert turned_away  # three times what it can take: the surplus was turned away
    assert all(int(o.headers[b"retry-after"]) >= 1 for o in turned_away)  # and told when to come back
    # Once at capacity, the room queues newcomers (who would come back when their turn comes),
    # and every one after that waits in the queue.
    queued = [i for i, o in enumerate(outcomes) if b"haven_ticket" in o.headers.get(b"set-cookie", b"")]
    assert queued
    assert all(o.status == 503 for o in outcomes[queued[0] :])
    # Before the room queued, the limiter let people in: it did not shed them all.
    assert any(o.status == 200 for o in outcomes[: queued[0]])


async def test_without_the_shield_nothing_is_turned_away(app: Haven, tmp_path: Path) -> None:
    haven = gated(app, tmp_path / "var", behind=SlowApp(), HAVEN_SHIELD="false")
    outcomes = await crowd(haven)
    # Everyone waits inside the application for as long as it takes: that wait is what the
    # shield bounds (``bench/overload.py`` measures how it grows).
    assert all(o.answered and o.status == 200 for o in outcomes)
    assert not any(b"retry-after" in o.headers for o in outcomes)
