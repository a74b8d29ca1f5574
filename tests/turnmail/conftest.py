"""The email road's tests run on the whole app (database, outbox, mail folder) with the real shield
in front, on a room clock that stands still until a test moves it; ticks are run by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from haven import settings as settings_module
from haven.app import Haven, compose, create_framework
from haven.shield.core import Shield
from haven.shield.store.memory import MemoryStore
from haven.turnmail.service import TurnMail
from haven.web.clock import FixedClock
from tests.shield.gate_kit import steer
from tests.visitor import Visitor, started

START = 1_796_227_200.0  # 2026-12-02 16:00 UTC


@dataclass
class Road:
    haven: Haven
    shield: Shield
    turnmail: TurnMail
    moment: list[float]

    def later(self, seconds: float) -> None:
        self.moment[0] += seconds

    async def turn(self, count: int = 1) -> None:
        """The counter moves on by ``count`` places, and the tick's hooks run, as the ticker runs them."""
        room = self.shield.room
        await room.store.advance(room.name, count, room.now())
        await room.tick()
        for hook in self.shield.after_tick:
            await hook(room.public)
        await self.turnmail.wait()


@pytest.fixture
async def road(app: Haven, db_settings: settings_module.Settings) -> AsyncIterator[Road]:
    moment = [START]
    clock = FixedClock(dt.date(2026, 12, 2))
    shield = Shield(db_settings, app.site, app.site.busy.body, MemoryStore(), now=lambda: moment[0])
    haven = compose(
        db_settings,
        clock,
        app.site,
        app.responses,
        app.query_pages,
        create_framework(app.site, clock),
        shield=shield,
    )
    owners = [getattr(hook, "__self__", None) for hook in shield.after_tick]  # bound methods' objects
    turnmail = next(owner for owner in owners if isinstance(owner, TurnMail))
    async with started(haven):
        yield Road(haven, shield, turnmail, moment)


@pytest.fixture
async def person(road: Road, db_settings: settings_module.Settings) -> AsyncIterator[Visitor]:
    async with Visitor.of(road.haven, db_settings.mail_folder) as visitor:
        yield visitor


async def queueing(road: Road) -> None:
    """Everyone new waits: the operators paused the outflow (the tests move the counter)."""
    await steer(road.haven, action="pause")
