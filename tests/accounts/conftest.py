"""The account tests' site runs on a clock that stands still until a test moves it: a throttle's
wait or a link's lifetime passes when the test says so, never on the wall clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from haven import settings as settings_module
from haven.app import create_app
from haven.web.clock import FixedClock
from tests.visitor import Visitor, started


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.date(2026, 3, 2))


@pytest.fixture
async def site(db_settings: settings_module.Settings, clock: FixedClock) -> AsyncIterator[Visitor]:
    """A started app on ``clock`` (database and mail included) and a visitor with a cookie jar."""
    app = create_app(db_settings, clock=clock)
    async with started(app), Visitor.of(app, db_settings.mail_folder) as visitor:
        yield visitor
