"""Rounds of invitations on SQLite and on PostgreSQL: ranking and tie-breaking in the database, one
transaction per round, idempotence, invitations answered, and the pool's lifecycle."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from bench.rounds import seed_pool
from haven import settings as settings_module
from haven.app import create_app
from haven.mail.models import OutboxMessage
from haven.profiles.models import Profile
from haven.profiles.service import ActiveProfileExists, ProfileNotEditable
from haven.rounds.models import Application, Invitation, PoolCategory, PoolEntry
from haven.rounds.service import InvitationNotOpen, RoundConflict, round_day
from haven.rules.rounds import Entry, rank, spec
from haven.services import Services
from haven.web.clock import FixedClock
from haven.web.security import new_token
from tests.rounds.applicants import applicant
from tests.visitor import started

DAY = dt.date(2026, 11, 27)
T0 = dt.datetime(2026, 11, 27, 14, 0, 5, tzinfo=dt.UTC)
AT = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)  # the rounds' time, unless a test says otherwise
BEFORE = dt.datetime(2026, 2, 10, 15, tzinfo=dt.UTC)
AFTER = dt.datetime(2026, 2, 20, 15, tzinfo=dt.UTC)
JOB_ANSWERS = {
    "title": "Software developer",
    "noc": "21232",
    "employer": "Andela",
    "in_canada": "no",
    "country": "NG",
    "start": "2021-01",
    "current": "yes",
    "hours": "40",
    "paid": "yes",
}


@pytest.fixture
async def services(db_settings: settings_module.Settings) -> AsyncIterator[Services]:
    app = create_app(db_settings, clock=FixedClock(DAY))
    async with started(app):
        yield app.services


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def draw(services: Services, size: int, round_id: str, at: dt.datetime = AT, **options: str) -> Any:
    return await services.rounds.draw(spec(size, at, round_day(at), **options), round_id, now=at)


async def test_a_round_ranks_by_score_then_by_submission_time(services: Services) -> None:
    nominated = await applicant(
        services, "d@example.org", T0 + dt.timedelta(hours=5), nomination={"pnp": "yes", "province": "on"}
    )
    later = await applicant(services, "a@example.org", T0 + dt.timedelta(hours=1))
    first = await applicant(services, "b@example.org", T0)
    # The same second as ``first``, half a second later: ranked after it.
    same_second = await applicant(services, "c@example.org", T0 + dt.timedelta(microseconds=500_000))
    older = await applicant(services, "e@example.org", T0 - dt.timedelta(days=3), dob="1990-01-01")
    assert (nominated.crs_score, later.crs_score, older.crs_score) == (
        1029,
        429,
        391,
    )  # age 36: 72 points instead of 110
    outbox_before = await count(services, OutboxMessage)

    result = await draw(services, 3, "round-1")
    assert [person.profile_id for person in result.chosen] == [nominated.id, first.id, same_second.id]
    record = result.round.as_json()
    assert record["invited"] == 3
    assert record["cutoff"] == 429
    assert record["tie_break"] == "2026-11-27T14:00:05Z"  # published to the second, as IRCC does
    assert result.round.tie_break == same_second.submitted_at
    assert record["rules_version"] == "crs-2025-03-25+categories-2026-02-18"
    assert await count(services, Invitation) == 3
    assert await count(services, Profile, Profile.state == "invited") == 3
    assert await count(services, PoolEntry) == 2  # later and older are still in the pool
    mail = await services.database.read(
        lambda c: list(
            c.execute(select(OutboxMessage.recipient, OutboxMessage.subject).order_by(OutboxMessage.id))
        )
    )
    assert len(mail) == outbox_before + 3
    assert {row.recipient for row in mail[-3:]} == {"d@example.org", "b@example.org", "c@example.org"}
    assert all(row.subject.startswith("Haven:") for row in mail[-3:])

    # The same round again issues nothing more; the same id for another round is refused.
    again = await draw(services, 3, "round-1")
    assert again.existing
    assert again.round == result.round
    assert await count(services, Invitation) == 3
    assert await count(services, OutboxMessage) == outbox_before + 3
    with pytest.raises(RoundConflict):
        await draw(services, 4, "round-1")

    # The next round starts where this one stopped.
    following = await draw(services, 5, "round-2", AT + dt.timedelta(days=7))
    assert [person.profile_id for person in following.chosen] == [later.id, older.id]
    assert following.round.cutoff == 391
    listed = await services.rounds.all()
    assert [r.id for r in listed] == ["round-2", "round-1"]


async def test_a_round_that_invites_nobody_is_recorded(services: Services) -> None:
    await applicant(services, "a@example.org", T0)
    result = await draw(services, 100, "french-1", category="french")
    assert result.chosen == ()
    assert (result.round.invited, result.round.cutoff, result.round.tie_break) == (0, None, None)
    assert [r.id for r in await services.rounds.all()] == ["french-1"]
    assert await count(services, PoolEntry) == 1


async def test_a_person_in_two_categories_is_in_both_rounds_until_invited(services: Services) -> None:
    # Cybersecurity (21220, STEM) since 2023, and TEF Canada at NCLC 9 or more: French too.
    both = await applicant(
        services,
        "both@example.org",
        T0,
        languages={
            "test2": "tef_canada",
            "date2": "2026-09-01",
            "s2r": "260",
            "s2w": "400",
            "s2l": "300",
            "s2s": "400",
        },
        work={
            "jobs": [
                {
                    "title": "Analyst",
                    "noc": "21220",
                    "employer": "Shield Ltd",
                    "in_canada": "no",
                    "country": "NG",
                    "start": "2023-01",
                    "current": "yes",
                    "hours": "40",
                    "paid": "yes",
                }
            ]
        },
    )
    await applicant(services, "other@example.org", T0)
    for key in ("french", "stem"):
        preview = await services.rounds.draw(
            spec(10, AT, DAY, category=key), f"{key}-preview", now=AT, dry_run=True
        )
        assert [person.profile_id for person in preview.chosen] == [both.id], key
    assert await count(services, PoolCategory, PoolCategory.profile_id == both.id) == 2
    await draw(services, 10, "french-1", category="french")
    assert (await draw(services, 10, "stem-1", category="stem")).chosen == ()


async def test_a_program_round_invites_only_that_program(services: Services) -> None:
    nominated = await applicant(services, "pnp@example.org", T0, nomination={"pnp": "yes", "province": "bc"})
    await applicant(services, "fsw@example.org", T0)
    assert [p.profile_id for p in (await draw(services, 10, "pnp-1", program="pnp")).chosen] == [nominated.id]
    assert (await draw(services, 10, "cec-1", program="cec")).chosen == ()  # nobody has Canadian work
    assert len((await draw(services, 10, "fsw-1", program="fsw")).chosen) == 1


async def test_declining_puts_the_profile_back_with_its_submission_time(services: Services) -> None:
    first = await applicant(services, "first@example.org", T0)
    second = await applicant(services, "second@example.org", T0 + dt.timedelta(minutes=1))
    await draw(services, 1, "round-1")
    now = AT + dt.timedelta(days=1)
    invitation = await services.rounds.invitation(first.account_id, first.id, now)
    assert invitation is not None
    assert invitation.state == "open"
    assert invitation.deadline == AT + dt.timedelta(days=60)
    await services.rounds.decline(first.account_id, first.id, now)
    await services.rounds.decline(first.account_id, first.id, now)  # a second click: nothing more
    back = await services.profiles.get(first.account_id, first.id)
    assert back.state == "submitted"
    assert back.submitted_at == first.submitted_at
    # Still ahead of the later profile with the same score.
    chosen = (await draw(services, 1, "round-2", AT + dt.timedelta(days=14))).chosen
    assert [person.profile_id for person in chosen] == [first.id]
    assert second.crs_score == first.crs_score


async def test_accepting_starts_an_application_and_ends_the_pool(services: Services) -> None:
    person = await applicant(services, "yes@example.org", T0)
    await draw(services, 1, "round-1")
    now = AT + dt.timedelta(days=2)
    application_id = await services.rounds.accept(person.account_id, person.id, now)
    assert await services.rounds.accept(person.account_id, person.id, now) == application_id  # again: same
    assert await count(services, Application) == 1
    assert (await services.profiles.get(person.account_id, person.id)).state == "accepted"
    with pytest.raises(InvitationNotOpen):
        await services.rounds.decline(person.account_id, person.id, now)
    with pytest.raises(ActiveProfileExists):  # one active profile per account
        await services.profiles.start(person.account_id, new_token(), now=now)


async def test_an_invitation_cannot_be_answered_after_60_days(services: Services) -> None:
    person = await applicant(services, "late@example.org", T0)
    await draw(services, 1, "round-1")
    late = AT + dt.timedelta(days=60)
    invitation = await services.rounds.invitation(person.account_id, person.id, late)
    assert invitation is not None
    assert invitation.state == "expired"
    for answer in (services.rounds.accept, services.rounds.decline):
        with pytest.raises(InvitationNotOpen):
            await answer(person.account_id, person.id, late)


async def test_a_submitted_profile_can_be_changed_and_keeps_its_submission_time(services: Services) -> None:
    person = await applicant(services, "edit@example.org", T0)
    later = T0 + dt.timedelta(days=10)
    changed = await services.profiles.save(
        person.account_id,
        person.id,
        "contact",
        {"city": "Abuja", "country": "NG"},
        complete=True,
        now=later,
    )
    assert changed.submitted_at == person.submitted_at
    # A new language test at CLB 10 raises the score; the pool follows, in the same transaction.
    better = {**changed.answers["languages"], "s1r": "8.5", "s1w": "7.5", "s1l": "8.5", "s1s": "7.5"}
    rescored = await services.profiles.save(
        person.account_id, person.id, "languages", better, complete=True, now=later
    )
    assert rescored.crs_score is not None
    assert person.crs_score is not None
    assert rescored.crs_score > person.crs_score
    entry = await services.database.read(
        lambda c: c.execute(
            select(PoolEntry.score, PoolEntry.submitted_at).where(PoolEntry.profile_id == person.id)
        ).one()
    )
    assert (entry.score, entry.submitted_at) == (rescored.crs_score, person.submitted_at)
    # Once invited, it can no longer be changed.
    await draw(services, 1, "round-1", later + dt.timedelta(hours=1))
    with pytest.raises(ProfileNotEditable):
        await services.profiles.save(
            person.account_id, person.id, "contact", {"city": "Kano"}, complete=True, now=later
        )


async def test_withdrawing_and_submitting_anew_resets_the_submission_time(services: Services) -> None:
    person = await applicant(services, "again@example.org", T0)
    with pytest.raises(ActiveProfileExists):
        await services.profiles.start(person.account_id, new_token(), now=T0 + dt.timedelta(days=1))
    await services.profiles.withdraw(person.account_id, person.id, now=T0 + dt.timedelta(days=1))
    assert await count(services, PoolEntry) == 0
    fresh = await services.profiles.start(person.account_id, new_token(), now=T0 + dt.timedelta(days=2))
    assert fresh.id != person.id
    assert (await draw(services, 5, "round-1")).chosen == ()


async def test_the_sweep_expires_old_profiles_and_warns_a_month_before(services: Services) -> None:
    now = dt.datetime(2027, 11, 1, 12, tzinfo=dt.UTC)
    gone = await applicant(services, "gone@example.org", now - dt.timedelta(days=366))
    soon = await applicant(services, "soon@example.org", now - dt.timedelta(days=340))
    await applicant(services, "fresh@example.org", now - dt.timedelta(days=100))
    # An expired profile is never invited, sweep or not.
    preview = await services.rounds.draw(spec(10, now, round_day(now)), "preview", now=now, dry_run=True)
    assert gone.id not in {person.profile_id for person in preview.chosen}
    assert await services.rounds.sweep(now) == (1, 1)
    assert await services.rounds.sweep(now) == (0, 0)  # each notice is sent once
    assert await count(services, PoolEntry, PoolEntry.profile_id == gone.id) == 0
    notices = await services.database.read(
        lambda c: list(
            c.execute(select(OutboxMessage.recipient).where(OutboxMessage.subject.contains("expires")))
        )
    )
    assert [row.recipient for row in notices] == ["soon@example.org"]
    assert soon.id in {p.profile_id for p in (await draw(services, 10, "r", now)).chosen}


async def test_scores_that_changed_since_they_were_stored_are_worked_out_again(services: Services) -> None:
    person = await applicant(services, "birthday@example.org", T0)  # 29 on 2026-11-27: 429
    at = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)  # she turned 30 on 2026-11-30: 424
    result = await draw(services, 1, "round-1", at)
    assert result.refreshed == 1
    assert [(p.profile_id, p.score) for p in result.chosen] == [(person.id, 424)]
    assert result.round.cutoff == 424
    # Her profile shows the score she was ranked on.
    assert (await services.profiles.get(person.account_id, person.id)).crs_score == 424


async def test_the_sweep_scores_again_what_changed_so_a_round_need_not(services: Services) -> None:
    await applicant(services, "swept@example.org", T0)  # turns 30 on 2026-11-30
    assert await services.rounds.refresh(dt.date(2026, 11, 29), skip_locked=True) == 0
    assert await services.rounds.refresh(dt.date(2026, 11, 30), skip_locked=True) == 1
    at = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)
    result = await draw(services, 1, "round-1", at)
    assert result.refreshed == 0
    assert result.chosen[0].score == 424


async def test_a_round_runs_under_the_rules_of_its_own_date(services: Services) -> None:
    # A nurse (31301) since June 2025, after four years as a developer (FSW's continuous year).
    nurse = await applicant(
        services,
        "nurse@example.org",
        dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC),
        work={
            "jobs": [
                {**JOB_ANSWERS, "end": "2025-05", "current": "no"},
                {**JOB_ANSWERS, "title": "Nurse", "noc": "31301", "start": "2025-06"},
            ]
        },
    )
    # On 2026-02-10 the 2025 rules ask 6 months in a row in a listed occupation: she has 9.
    before = await services.rounds.draw(
        spec(10, BEFORE, round_day(BEFORE), category="healthcare_social"), "b", now=BEFORE, dry_run=True
    )
    assert [p.profile_id for p in before.chosen] == [nurse.id]
    assert before.round.rules_version == "crs-2025-03-25+categories-2025-12-08"
    # From 2026-02-18 they ask 12 months: her stored facts end that day, and she is out.
    after = await services.rounds.draw(
        spec(10, AFTER, round_day(AFTER), category="healthcare_social"), "a", now=AFTER, dry_run=True
    )
    assert after.refreshed == 1
    assert after.chosen == ()
    assert after.round.rules_version == "crs-2025-03-25+categories-2026-02-18"
    # A round dated before the profile was submitted leaves it out.
    early = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    assert (await draw(services, 1, "too-early", early)).chosen == ()


def _entries(connection: Connection) -> list[Entry]:
    categories: dict[Any, set[str]] = {}
    for row in connection.execute(select(PoolCategory.profile_id, PoolCategory.category)):
        categories.setdefault(row.profile_id, set()).add(row.category)
    return [
        Entry(
            profile_id=row.profile_id,
            number=row.number,
            score=row.score,
            submitted_at=row.submitted_at,
            programs=frozenset(name for name in ("fsw", "cec", "fst", "pnp") if getattr(row, name)),
            categories=frozenset(categories.get(row.profile_id, ())),
        )
        for row in connection.execute(select(PoolEntry))
        if row.expires_at > AT and row.submitted_at <= AT
    ]


async def test_the_database_ranks_exactly_as_the_rule_does(services: Services) -> None:
    rng = random.Random(20161108)
    await services.database.write(lambda connection: seed_pool(connection, 600, DAY, rng=rng))
    pool = await services.database.read(_entries)
    for options in ({}, {"program": "cec"}, {"program": "pnp"}, {"category": "stem"}, {"category": "french"}):
        for size in (1, 37, 250, 1000):
            round_spec = spec(size, AT, round_day(AT), **options)
            expected = rank(pool, round_spec)
            found = await services.rounds.draw(round_spec, "preview", now=AT, dry_run=True)
            assert [p.profile_id for p in found.chosen] == [e.profile_id for e in expected.invited], (
                options,
                size,
            )
            assert found.round.cutoff == expected.cutoff
            assert found.round.tie_break == expected.tie_break
