"""Who is shed first: the published priorities, the CPU budgets of the work that never waits, and the
person mid-application, who gets through whatever else is arriving. The clocks are injected and the
costs are the table's: nothing here depends on how fast this machine is."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from pathlib import Path

import pytest

from haven.app import Haven
from haven.shield.budget import BURST_SECONDS, CORE_MS, FLOORS, Budget
from haven.shield.costs import COSTS_MS, cost_ms, weight
from haven.shield.limiter import SHARES, Limiter, Permit, Priority, Shed
from haven.surge.persona import CRS_ANSWERS  # a complete CRS calculation; the tests vary it
from tests.shield.gate_kit import browser, gated, steer, until

CALCULATOR = "/en/immigrate/express-entry/crs-calculator/result"
SUBMIT = "/en/account/profiles/6d1c1a52-0000-4000-8000-000000000001/submit"
SAVE = "/en/account/profiles/6d1c1a52-0000-4000-8000-000000000001/about-you"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def finished(tasks: Sequence[asyncio.Future[Permit]], count: int) -> bool:
    return sum(task.done() for task in tasks) == count


async def fill(limiter: Limiter, priority: Priority, count: int) -> list[Permit]:
    return [await limiter.acquire(priority) for _ in range(count)]


def test_the_priorities_are_four_and_each_may_fill_less_of_the_limit_than_the_one_above() -> None:
    assert [p.name for p in sorted(Priority)] == ["SUBMIT", "IN", "ADMIT", "ANONYMOUS"]
    assert list(SHARES) == sorted(SHARES, reverse=True)
    assert len(set(SHARES)) == len(SHARES) == len(Priority)
    assert SHARES[Priority.SUBMIT] == 1.0


async def test_anonymous_work_passes_while_the_origin_has_room() -> None:
    clock = Clock()
    budget = Budget(Limiter(now=clock), lambda: False)
    for _ in range(1000):  # a second's worth of a core many times over, at one instant: no one else
        budget.spend(Priority.ANONYMOUS, cost_ms("query_miss"))
    assert budget.sheds[Priority.ANONYMOUS] == 0
    assert budget.spent[Priority.ANONYMOUS] == pytest.approx(1000 * COSTS_MS["query_miss"])


async def test_while_the_room_queues_anonymous_work_spends_only_its_floor_and_newcomers_are_spared() -> None:
    clock = Clock()
    budget = Budget(Limiter(now=clock), lambda: True)
    api = cost_ms("api")
    burst = FLOORS[Priority.ANONYMOUS] * CORE_MS * BURST_SECONDS
    let_through = 0
    sheds: list[Shed] = []
    for _ in range(100):
        try:
            budget.spend(Priority.ANONYMOUS, api)
            let_through += 1
        except Shed as shed:
            sheds.append(shed)
    assert let_through == int(burst // api)
    assert sheds
    assert all(shed.reason == "budget" and shed.retry_after >= 1 for shed in sheds)
    # A second later the bucket has filled at the floor's rate again (5 % of a core), no more.
    clock.now += 1.0
    again = 0
    for _ in range(1000):
        try:
            budget.spend(Priority.ANONYMOUS, api)
            again += 1
        except Shed:
            pass
    assert again == int(burst // api)
    # The room's own work for newcomers is not bound by the line alone, nor are people already in.
    for priority in (Priority.ADMIT, Priority.IN, Priority.SUBMIT):
        for _ in range(1000):
            budget.spend(priority, cost_ms("room"))


async def test_when_people_already_in_are_short_of_room_newcomers_and_anonymous_work_are_bound() -> None:
    clock = Clock()
    limiter = Limiter(now=clock, initial_limit=10, min_limit=4)
    budget = Budget(limiter, lambda: False)
    await fill(limiter, Priority.IN, 9)  # people already in, up to their share
    await fill(limiter, Priority.SUBMIT, 1)  # and a submission: the limit is full
    assert limiter.at_capacity()
    admitted = {Priority.ADMIT: 0, Priority.ANONYMOUS: 0}
    for priority in admitted:
        for _ in range(200):
            try:
                budget.spend(priority, cost_ms("room"))
                admitted[priority] += 1
            except Shed:
                pass
    floor = {p: FLOORS[p] * CORE_MS * BURST_SECONDS for p in admitted}
    assert admitted[Priority.ADMIT] == int(floor[Priority.ADMIT] // cost_ms("room"))
    assert admitted[Priority.ANONYMOUS] == int(floor[Priority.ANONYMOUS] // cost_ms("room"))
    assert admitted[Priority.ANONYMOUS] < admitted[Priority.ADMIT]  # the lowest is shed first
    budget.spend(Priority.SUBMIT, cost_ms("submit"))  # never bound: the limiter is theirs


async def test_shares_shed_anonymous_then_newcomers_and_keep_room_for_people_already_in() -> None:
    clock = Clock()
    limiter = Limiter(now=clock, initial_limit=10, min_limit=4)
    await fill(limiter, Priority.ANONYMOUS, 5)  # anonymous calls fill their half, no more
    with pytest.raises(Shed):
        await limiter.acquire(Priority.ANONYMOUS)
    await fill(limiter, Priority.ADMIT, 2)  # newcomers up to 7 in 10
    assert limiter.in_flight == 7
    await fill(limiter, Priority.IN, 2)  # people already in up to 9 in 10
    submission = await limiter.acquire(Priority.SUBMIT)  # and the last tenth is for submissions
    assert limiter.in_flight == 10
    submission.release()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def haven(app: Haven, tmp_path: Path, clock: Clock) -> Haven:
    return gated(app, tmp_path / "var", limiter=Limiter(now=clock, initial_limit=20, min_limit=4))


async def test_a_flood_of_anonymous_calls_and_calculator_misses_does_not_keep_a_submission_out(
    haven: Haven,
) -> None:
    shield = haven.shield
    assert shield is not None
    async with browser(haven) as applicant, browser(haven, "203.0.113.9") as crowd:
        assert (await applicant.get("/en/account")).status_code == 200  # let in: a pass
        await steer(haven, action="pause")  # the room keeps newcomers in line from now on
        # The anonymous flood: calculations, and calculator pages no one has asked for before.
        held = await fill(shield.limiter, Priority.ANONYMOUS, int(shield.limiter.limit * SHARES[-1]))
        statuses: dict[int, int] = {}
        for number in range(150):
            api = await crowd.post("/api/v1/crs", json={})
            miss = await crowd.get(
                CALCULATOR, params={**CRS_ANSWERS, "age": str(18 + number % 40), "fwork": str(number % 4)}
            )
            for answer in (api, miss):
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                if answer.status_code == 503:
                    assert int(answer.headers["retry-after"]) >= 1
        assert statuses.get(503, 0) >= 250  # shed: all but the floor's trickle
        assert set(statuses) <= {200, 503}
        # The person mid-application saves a section and submits: both go through at once.
        saved = await applicant.post(SAVE, data={"action": "continue"})
        assert saved.status_code == 200, saved.text
        submitted = await applicant.post(SUBMIT, data={"declaration": "yes"})
        assert submitted.status_code == 200
        assert submitted.json() == {"served": SUBMIT, "method": "POST"}
        # Their calculator page, missed or not, is theirs: not bound with the crowd's.
        mine = await applicant.get(CALCULATOR, params={**CRS_ANSWERS, "age": "61"})
        assert mine.status_code == 200
        for permit in held:
            permit.release()
    assert shield.budget.sheds[Priority.ANONYMOUS] >= 250


async def test_a_person_mid_application_is_asked_to_retry_never_sent_back_to_the_line(
    haven: Haven, clock: Clock
) -> None:
    shield = haven.shield
    assert shield is not None
    limiter = shield.limiter
    async with browser(haven) as applicant:
        assert (await applicant.get("/en/account")).status_code == 200
        await steer(haven, action="pause")
        held = await fill(limiter, Priority.SUBMIT, int(limiter.limit))  # full
        waiting = asyncio.ensure_future(applicant.get("/en/account"))
        await until(lambda: limiter.queued == 1)  # they wait in the limiter's queue, briefly
        clock.now += 10.0  # long past CoDel's patience
        limiter.note_loop_lag(0.0)  # the heartbeat that expires waiters
        busy = await waiting
        assert busy.status_code == 503
        assert 1 <= int(busy.headers["retry-after"]) <= 2
        assert "haven_ticket" not in applicant.cookies  # no place in the line was taken
        assert "You are in the queue" not in busy.text
        for permit in held:
            permit.release()
        assert (await applicant.get("/en/account")).status_code == 200


async def test_the_room_sheds_its_own_work_for_newcomers_before_anyone_already_in(haven: Haven) -> None:
    shield = haven.shield
    assert shield is not None
    async with browser(haven) as applicant:
        assert (await applicant.get("/en/account")).status_code == 200
        await steer(haven, action="pause")
        limiter = shield.limiter
        held = await fill(limiter, Priority.IN, int(limiter.limit * SHARES[Priority.IN]))
        held += await fill(limiter, Priority.SUBMIT, int(limiter.limit - limiter.in_flight))
        while limiter.limit - limiter.in_flight < weight("submit"):  # full a moment ago (at
            held.pop().release()  # capacity for a second still): room again for one submission
        assert limiter.at_capacity()
        answers = []
        for number in range(120):
            async with browser(haven, f"203.0.113.{number + 1}") as newcomer:
                answers.append(await newcomer.get("/en/account"))
        shed = [
            a
            for a in answers
            if a.status_code == 503 and "haven_ticket" not in a.headers.get("set-cookie", "")
        ]
        joined = [a for a in answers if "haven_ticket" in a.headers.get("set-cookie", "")]
        floor = FLOORS[Priority.ADMIT] * CORE_MS * BURST_SECONDS
        assert len(joined) == int(floor // cost_ms("room"))
        assert len(shed) == len(answers) - len(joined)
        assert all(int(a.headers["retry-after"]) >= 1 for a in shed)
        submitted = await applicant.post(SUBMIT, data={})  # the tenth kept for submissions
        assert submitted.status_code == 200
        for permit in held:
            permit.release()


def test_every_kind_admission_weighs_is_in_the_cost_table() -> None:
    from haven.shield.admission import Admission

    kinds = {"page", "save", "submit", "password", "query_miss", "api", "room"}
    assert set(COSTS_MS) == kinds
    assert all(value > 0 for value in COSTS_MS.values())
    admission = Admission(
        lambda *_: None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        {"/en/account/sign-in"},
        profile_prefixes=["/en/account/profiles"],
        submit_slugs=["submit"],
    )
    assert admission.kind_of("GET", SUBMIT) == "page"
    assert admission.kind_of("POST", SUBMIT) == "submit"
    assert admission.kind_of("POST", SAVE) == "save"
    assert admission.kind_of("POST", "/en/account/profiles") == "save"  # starting a profile
    assert admission.kind_of("POST", "/en/account/sign-in") == "password"
    assert admission.kind_of("POST", "/en/account/sign-out") == "page"
    assert Admission.priority_of("submit", newcomer=True) is Priority.SUBMIT
    assert Admission.priority_of("page", newcomer=True) is Priority.ADMIT
    assert Admission.priority_of("page", newcomer=False) is Priority.IN


async def test_a_pass_outlives_an_idle_session_so_signing_in_again_never_means_queueing_again(
    haven: Haven,
) -> None:
    from haven.accounts.service import SESSION_IDLE
    from haven.settings import Settings

    shield = haven.shield
    assert shield is not None
    assert Settings().pass_minutes * 60 > SESSION_IDLE.total_seconds()
    room = shield.room
    started = room.now()
    async with browser(haven) as applicant:
        room.now = lambda: started
        assert (await applicant.get("/en/account")).status_code == 200  # let in: a pass
        await steer(haven, action="pause")  # the room keeps newcomers in line from now on
        room.now = lambda: started + SESSION_IDLE.total_seconds() + 60
        again = await applicant.get("/en/account/sign-in")
        assert again.status_code == 200
        assert again.json()["served"] == "/en/account/sign-in"
        assert "haven_ticket" not in applicant.cookies


def test_the_cost_table_is_the_one_the_bench_measured() -> None:
    import json
    import math

    from haven.shield.costs import MEASURED

    measured = json.loads((Path(__file__).parents[2] / "bench/results/costs.json").read_text())
    assert measured["date"].startswith(MEASURED)
    for kind, figures in measured["costs_ms"].items():
        # The table keeps each median rounded up to a tenth of a millisecond.
        assert COSTS_MS[kind] == math.ceil(figures["median_ms"] * 10) / 10, kind
    assert set(measured["costs_ms"]) == set(COSTS_MS)


async def test_a_submission_waits_for_a_slot_where_other_work_is_dropped_and_not_for_ever() -> None:
    from haven.shield.limiter import SUBMIT_WAIT

    clock = Clock()
    limiter = Limiter(now=clock, initial_limit=10, min_limit=4)
    held = await fill(limiter, Priority.SUBMIT, 10)
    submission = asyncio.ensure_future(limiter.acquire(Priority.SUBMIT))
    page = asyncio.ensure_future(limiter.acquire(Priority.IN))
    await until(lambda: limiter.queued == 2)
    clock.now += SUBMIT_WAIT / 2  # far past CoDel's patience, within a submission's
    limiter.note_loop_lag(0.0)
    await until(page.done)
    with pytest.raises(Shed):
        page.result()
    assert not submission.done()
    held.pop().release()
    held.append(await submission)  # the slot that came free: the limit is full again
    late = asyncio.ensure_future(limiter.acquire(Priority.SUBMIT))
    await until(lambda: limiter.queued == 1)
    clock.now += SUBMIT_WAIT + 0.1
    limiter.note_loop_lag(0.0)
    await until(late.done)
    with pytest.raises(Shed) as shed:
        late.result()
    assert shed.value.retry_after >= 1
    for permit in held:
        permit.release()


async def test_submissions_are_served_first_come_first_served_even_from_a_standing_queue() -> None:
    clock = Clock()
    limiter = Limiter(now=clock, initial_limit=10, min_limit=4)
    held = await fill(limiter, Priority.SUBMIT, 10)
    queued = []
    for _ in range(3):
        queued.append(asyncio.ensure_future(limiter.acquire(Priority.SUBMIT)))
        await until(lambda: limiter.queued == len(queued))
        clock.now += 0.01
    clock.now += 0.5  # the queue has stood for longer than CoDel's interval: other work goes LIFO
    for expected, oldest in enumerate(queued):
        held.pop().release()
        await until(functools.partial(finished, queued, expected + 1))
        assert oldest.done()  # the oldest first
        held.append(oldest.result())
    for permit in held:
        permit.release()
