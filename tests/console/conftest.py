"""The console's tests: a started app on a clock the test moves (a TOTP code is accepted once, so a
second sign-in waits for the next 30-second step), an operator made as ``haven operator add`` makes
one, and a signed-in operator's browser."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pyotp
import pytest

from haven import settings as settings_module
from haven.app import Haven, create_app
from haven.console.operators import NewOperator
from haven.web.clock import FixedClock
from tests.visitor import Visitor, started

PASSWORD = "a long operator password"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.date(2026, 11, 3), dt.datetime(2026, 11, 3, 23, 0, tzinfo=dt.UTC))


def code(operator: NewOperator, clock: FixedClock) -> str:
    return pyotp.TOTP(operator.secret).at(clock.now())


def next_step(clock: FixedClock) -> None:
    """Move the clock to the next 30-second step: a fresh code."""
    assert clock.moment is not None
    clock.moment += dt.timedelta(seconds=30)


@dataclass
class Console:
    app: Haven
    clock: FixedClock
    operator: NewOperator
    browser: Visitor

    async def sign_in(self, visitor: Visitor | None = None, lang: str = "en") -> None:
        visitor = visitor or self.browser
        page = "/admin/en/sign-in" if lang == "en" else "/admin/fr/connexion"
        response = await visitor.submit(
            page, {"name": self.operator.name, "password": PASSWORD, "code": code(self.operator, self.clock)}
        )
        assert response.status_code == 303, response.text[:800]
        next_step(self.clock)


@pytest.fixture
async def console(db_settings: settings_module.Settings, clock: FixedClock) -> AsyncIterator[Console]:
    app = create_app(db_settings, clock=clock)
    async with started(app), Visitor.of(app, db_settings.mail_folder) as browser:
        operator = await app.services.operators.add("rosa", PASSWORD)
        yield Console(app, clock, operator, browser)
