"""The retention tests' site runs on a clock that stands still until a test moves it: rows are made
at chosen moments through the app's own services, then pruned at another."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from haven import settings as settings_module
from haven.app import create_app
from haven.services import Services
from haven.web.clock import FixedClock
from tests.visitor import started

# The app's clock stands at the moment the tests start: the outbox dates its messages by the wall
# clock, and they must be as young as everything else a test makes "now".
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW.date(), NOW)


@pytest.fixture
async def services(db_settings: settings_module.Settings, clock: FixedClock) -> AsyncIterator[Services]:
    app = create_app(db_settings, clock=clock)
    async with started(app):
        # The tests deliver and prune themselves: a sweep of the app's own would race them (its
        # start-up delivery could take a message a test means to refuse).
        await app.services.stop_sweeps()
        yield app.services
