"""Passwords and the sign-in decoy: a sign-in costs one argon2 verify, in a thread, whether or not
the address has an account, so neither the answer's timing nor the event loop gives the address away."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from argon2 import PasswordHasher

from haven import settings as settings_module
from haven.accounts.letters import Letters
from haven.accounts.service import Accounts, Passwords, SignInFailed
from haven.db import Database, create_engine
from haven.web.clock import SystemClock
from tests.accounts.factories import PASSWORD, verified_account


class CountingHasher(PasswordHasher):
    """argon2id at its cheapest, noting each hash and verify and the thread it runs on."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls: list[tuple[str, int]] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls.append(("hash", threading.get_ident()))
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls.append(("verify", threading.get_ident()))
        return super().verify(hash, password)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]

    def threads(self) -> set[int]:
        return {thread for _, thread in self.calls}


@pytest.fixture
async def database(db_settings: settings_module.Settings) -> AsyncIterator[Database]:
    engine = create_engine(db_settings)
    try:
        yield Database(engine)
    finally:
        await engine.dispose()


async def test_the_decoy_is_hashed_once_when_passwords_are_prepared_and_off_the_event_loop() -> None:
    hasher = CountingHasher()
    passwords = Passwords(hasher)
    await passwords.prepare()
    await passwords.prepare()
    assert hasher.kinds() == ["hash"]
    assert threading.get_ident() not in hasher.threads()


async def test_a_sign_in_before_the_decoy_is_prepared_is_refused_rather_than_hashed_on_the_loop() -> None:
    hasher = CountingHasher()
    with pytest.raises(RuntimeError, match="prepare"):
        await Passwords(hasher).verify(None, PASSWORD)
    assert hasher.calls == []


@pytest.mark.parametrize(
    ("email", "password", "signs_in"),
    [
        ("nobody@example.org", PASSWORD, False),
        ("ada@example.org", "wrong password", False),
        ("ada@example.org", PASSWORD, True),
    ],
    ids=["no-account", "wrong-password", "right-password"],
)
async def test_a_sign_in_verifies_once_in_a_thread_whether_or_not_the_address_has_an_account(
    database: Database, db_settings: settings_module.Settings, email: str, password: str, signs_in: bool
) -> None:
    hasher = CountingHasher()
    passwords = Passwords(hasher)
    await passwords.prepare()
    accounts = Accounts(database, passwords, Letters(db_settings), SystemClock())
    await verified_account(accounts, "ada@example.org")
    hasher.calls.clear()
    if signs_in:
        account, _ = await accounts.sign_in(email, password, "198.51.100.4")
        assert account.email == email
    else:
        with pytest.raises(SignInFailed):
            await accounts.sign_in(email, password, "198.51.100.4")
    assert hasher.kinds() == ["verify"]
    assert threading.get_ident() not in hasher.threads()
