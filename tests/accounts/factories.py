"""Test data for the account tests, written straight to the database where building it through the
pages is not what a test is about."""

from __future__ import annotations

import uuid
from typing import Final

from haven.accounts.models import Account
from haven.accounts.service import Accounts, normalise_email

PASSWORD: Final = "correct horse battery"


async def verified_account(
    accounts: Accounts, email: str, password: str = PASSWORD, lang: str = "en"
) -> Account:
    """An account whose address is confirmed, hashed with the passwords of ``accounts`` and dated by
    its clock, as signing up and following the link would leave it."""
    now = accounts.clock.now()
    account = Account(
        id=uuid.uuid4(),
        email=normalise_email(email),
        password_hash=await accounts.passwords.hash(password),
        language=lang,
        created_at=now,
        email_verified_at=now,
        password_changed_at=now,
    )
    async with accounts.database.transaction() as session:
        session.add(account)
    return account
