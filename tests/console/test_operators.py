"""Operators' accounts: made with a name, a password and a TOTP secret kept sealed; signed in only
with all three, each code once; blocked after repeated failures; disabled, with their sessions ended.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from sqlalchemy import select

from haven.accounts.service import SignInFailed, TooManyAttempts
from haven.console.models import AuditEntry, Operator
from haven.console.operators import NAME_ALLOWANCE, OperatorError
from tests.console.conftest import PASSWORD, Console, code, next_step


async def test_an_operator_signs_in_with_name_password_and_code(console: Console) -> None:
    operators = console.app.services.operators
    signed_in, session_id = await operators.sign_in(
        "Rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.1"
    )
    assert signed_in.name == "rosa"
    assert (await operators.operator_for_session(session_id)) == signed_in
    assert await operators.operator_for_session(session_id + "x") is None


async def test_the_secret_is_sealed_at_rest(console: Console) -> None:
    async with console.app.services.database.transaction() as session:
        stored = await session.scalar(select(Operator.totp_secret))
    assert stored is not None
    assert console.operator.secret.encode() not in stored
    assert console.app.services.operators.sealer.open(stored) == console.operator.secret
    assert console.operator.uri.startswith("otpauth://totp/Haven:rosa?secret=")


@pytest.mark.parametrize("wrong", ["password", "code", "name"])
async def test_any_wrong_part_fails_the_same_way(console: Console, wrong: str) -> None:
    parts = {"name": "rosa", "password": PASSWORD, "code": code(console.operator, console.clock)}
    parts[wrong] = {"password": "not the password", "code": "000000", "name": "rose"}[wrong]
    if wrong == "code" and parts["code"] == code(console.operator, console.clock):
        parts["code"] = "111111"
    with pytest.raises(SignInFailed):
        await console.app.services.operators.sign_in(
            parts["name"], parts["password"], parts["code"], "198.51.100.1"
        )


async def test_a_code_is_accepted_once(console: Console) -> None:
    operators = console.app.services.operators
    current = code(console.operator, console.clock)
    await operators.sign_in("rosa", PASSWORD, current, "198.51.100.1")
    with pytest.raises(SignInFailed):  # the same code again, within its 30 seconds
        await operators.sign_in("rosa", PASSWORD, current, "198.51.100.1")
    # An older code (the step before, still within the drift allowed) is refused too.
    assert console.clock.moment is not None
    earlier = pyotp.TOTP(console.operator.secret).at(console.clock.moment - dt.timedelta(seconds=30))
    with pytest.raises(SignInFailed):
        await operators.sign_in("rosa", PASSWORD, earlier, "198.51.100.1")
    next_step(console.clock)
    await operators.sign_in("rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.1")


async def test_a_code_from_a_phone_a_step_behind_is_accepted(console: Console) -> None:
    assert console.clock.moment is not None
    behind = pyotp.TOTP(console.operator.secret).at(console.clock.moment - dt.timedelta(seconds=30))
    await console.app.services.operators.sign_in("rosa", PASSWORD, behind, "198.51.100.1")


async def test_failures_block_the_name_for_a_while(console: Console) -> None:
    operators = console.app.services.operators
    for _ in range(NAME_ALLOWANCE + 1):
        with pytest.raises(SignInFailed):
            await operators.sign_in("rosa", "not the password", "123456", "198.51.100.1")
    with pytest.raises(TooManyAttempts):  # even with everything right, from another address
        await operators.sign_in("rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.2")
    assert console.clock.moment is not None
    console.clock.moment += dt.timedelta(minutes=16)
    await operators.sign_in("rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.2")


async def test_a_disabled_operator_is_signed_out_and_cannot_sign_in(console: Console) -> None:
    operators = console.app.services.operators
    _, session_id = await operators.sign_in(
        "rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.1"
    )
    await operators.disable("rosa")
    assert await operators.operator_for_session(session_id) is None
    next_step(console.clock)
    with pytest.raises(SignInFailed):
        await operators.sign_in("rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.1")
    assert [row[0] for row in await operators.listing()] == ["rosa"]


async def test_sessions_end_when_idle(console: Console) -> None:
    operators = console.app.services.operators
    _, session_id = await operators.sign_in(
        "rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.1"
    )
    assert console.clock.moment is not None
    console.clock.moment += dt.timedelta(minutes=31)
    assert await operators.operator_for_session(session_id) is None


@pytest.mark.parametrize(
    ("name", "password", "problem"),
    [
        ("R", PASSWORD, "2 to 64"),
        ("rosa parks", PASSWORD, "2 to 64"),
        ("ana", "short", "10 to 200"),
        ("rosa", PASSWORD, "already an operator"),
    ],
)
async def test_bad_operators_are_refused(console: Console, name: str, password: str, problem: str) -> None:
    with pytest.raises(OperatorError, match=problem):
        await console.app.services.operators.add(name, password)


async def test_every_sign_in_and_failure_is_in_the_audit_log(console: Console) -> None:
    operators = console.app.services.operators
    with pytest.raises(SignInFailed):
        await operators.sign_in("rosa", "wrong password!", "123456", "198.51.100.9")
    await operators.sign_in("rosa", PASSWORD, code(console.operator, console.clock), "198.51.100.1")
    async with console.app.services.database.transaction() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        seen = [(row.operator, row.action, row.address) for row in rows]
    assert seen == [
        ("rosa", "operator-added", "command line"),
        ("rosa", "sign-in-failed", "198.51.100.9"),
        ("rosa", "signed-in", "198.51.100.1"),
    ]
