"""Rows for the retention tests, made through the app's services at a chosen moment, and the
counts the tests read back."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Connection, func, select

from haven.accounts.models import Account
from haven.mail.models import OutboxMessage
from haven.services import Services
from haven.web.clock import FixedClock
from tests.accounts.factories import PASSWORD, verified_account


async def rows(services: Services, model: Any, *where: Any) -> int:
    def work(connection: Connection) -> int:
        return int(connection.execute(select(func.count()).select_from(model).where(*where)).scalar_one())

    return await services.database.read(work)


async def confirmed(services: Services, clock: FixedClock, email: str, at: dt.datetime) -> Account:
    """An account made at ``at`` whose address is confirmed."""
    clock.moment = at
    return await verified_account(services.accounts, email)


async def signed_up(services: Services, clock: FixedClock, email: str, at: dt.datetime) -> str:
    """Sign up at ``at`` (the address not confirmed); returns the token of the link emailed."""
    clock.moment = at
    await services.accounts.sign_up(email, PASSWORD, "en")
    return await last_token(services, email)


async def last_token(services: Services, email: str) -> str:
    def work(connection: Connection) -> str:
        body = connection.execute(
            select(OutboxMessage.body)
            .where(OutboxMessage.recipient == email)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).scalar_one()
        found = re.search(r"token=(\S+)", body)
        assert found, body
        return unquote(found.group(1))

    return await services.database.read(work)


async def signed_in(services: Services, clock: FixedClock, email: str, at: dt.datetime) -> str:
    """Sign in at ``at``; returns the session id."""
    clock.moment = at
    _account, session_id = await services.accounts.sign_in(email, PASSWORD, "192.0.2.10")
    return session_id


async def draft(
    services: Services, account_id: uuid.UUID, at: dt.datetime, *, city: str = "Lagos"
) -> uuid.UUID:
    """A draft started and saved at ``at``, with a passport number."""
    profile = await services.profiles.start(account_id, uuid.uuid4().hex, now=at)
    await save(services, account_id, profile.id, at, city=city)
    return profile.id


async def save(
    services: Services, account_id: uuid.UUID, profile_id: uuid.UUID, at: dt.datetime, *, city: str
) -> None:
    await services.profiles.save(
        account_id,
        profile_id,
        "contact",
        {"city": city, "country": "NG"},
        complete=True,
        now=at,
        passport_number="A12345678",
    )
