"""The console keeps answering while the room it steers is at 50× and the worker is saturated:
operators are admitted first (past the line and the admission limiter), while applicants are queued
or shed. A behaviour test against one worker, not a timing."""

from __future__ import annotations

import asyncio

from haven.shield.limiter import Priority
from tests.console.conftest import Console
from tests.visitor import Visitor


async def test_operators_get_in_while_the_room_is_at_fifty_times_and_the_worker_is_full(
    console: Console,
) -> None:
    shield = console.app.shield
    assert shield is not None
    await console.sign_in()
    # Someone let in while the room was idle: they hold a pass.
    async with Visitor.of(console.app, console.app.settings.mail_folder, "198.18.9.9") as applicant:
        assert (await applicant.get("/en/account")).status_code == 303  # in: sent on to sign in
        await saturated(console, applicant)


async def saturated(console: Console, applicant: Visitor) -> None:
    shield = console.app.shield
    assert shield is not None
    # The room lets 2 people a second in; 100 newcomers arrive at once: 50 times what it admits.
    await shield.room.store.configure(shield.room.name, mode="rate", rate=2.0)
    shield.room.state = await shield.room.store.state(shield.room.name, shield.room.now())
    statuses: list[int] = []
    for n in range(100):
        async with Visitor.of(
            console.app, console.app.settings.mail_folder, f"198.18.{n // 200}.{n % 200 + 1}"
        ) as newcomer:
            statuses.append((await newcomer.get("/en/account")).status_code)
    queued = statuses.count(503)
    assert queued >= 90, statuses  # the waiting page (a burst of a few may be let in)
    # And the worker's limiter is full: every slot held by work in flight.
    limiter = shield.limiter
    held = [await limiter.acquire(Priority.SUBMIT, cost=max(1.0, limiter.limit))]
    try:
        assert limiter.at_capacity() or limiter.in_flight >= limiter.limit
        shed = await applicant.get("/en/account")
        assert shed.status_code == 503
        assert "retry-after" in shed.headers
        answers = await asyncio.gather(*(console.browser.get("/admin/en") for _ in range(5)))
        assert [answer.status_code for answer in answers] == [200] * 5
        page = answers[0].text
        assert "Fixed rate" in page
        # The line it shows is the room's, read from the shared counter.
        state = await shield.room.store.state(shield.room.name, shield.room.now())
        assert state.waiting >= queued
        assert f'<dd class="summary-list__value">{state.waiting}</dd>' in page
        # And the operator can act on it at once: a pause, confirmed.
        asked = await console.browser.submit("/admin/en/controls", {"action": "pause"}, page="/admin/en")
        assert asked.status_code == 200
    finally:
        for permit in held:
            permit.release()
