"""The room's last hour: rates made from successive readings of the shared state and the workers'
reports, a restarted worker counted from zero, sheds by reason, and the charts' scale."""

from __future__ import annotations

import json

from haven.console.figures import History, _nice, chart
from haven.shield.store import RoomState


def state(waiting: int = 0, lapsed: int = 0) -> RoomState:
    return RoomState(issued=waiting, serving=0, waiting=waiting, passes=0, claimed=0, lapsed=lapsed)


def report(
    worker: str,
    arrivals: int,
    admitted: int,
    sheds: dict[str, int],
    p99: float | None = 12.0,
    pressure: float = 0.5,
) -> str:
    return json.dumps(
        {
            "worker": worker,
            "arrivals": arrivals,
            "admitted": admitted,
            "shed_reasons": sheds,
            "p99_ms": p99,
            "pressure": pressure,
        }
    )


def test_the_first_reading_only_sets_the_counters() -> None:
    history = History()
    assert history.observe(0.0, state(), {"a": report("a", 10, 5, {})}) is None
    assert list(history.samples) == []


def test_rates_are_summed_over_workers_between_readings() -> None:
    history = History()
    history.observe(0.0, state(lapsed=2), {"a": report("a", 10, 5, {"limit": 1}), "b": report("b", 0, 0, {})})
    sample = history.observe(
        5.0,
        state(waiting=40, lapsed=7),
        {
            "a": report("a", 60, 15, {"limit": 11}, p99=30.0),
            "b": report("b", 50, 10, {"codel": 5}, p99=80.0, pressure=1.0),
        },
    )
    assert sample is not None
    assert sample.arrivals == (50 + 50) / 5
    assert sample.admissions == (10 + 10) / 5
    assert sample.waiting == 40
    assert sample.p99_ms == 80.0  # the highest worker's
    assert sample.pressure == 0.75
    assert sample.sheds == (10 + 5) / 5
    assert sample.shed_reasons == {"limit": 10, "codel": 5}
    assert sample.no_shows == 5 / 5 * 60  # a minute's worth
    assert sample.workers == 2


def test_a_restarted_worker_counts_from_zero_and_a_new_one_from_its_second_report() -> None:
    history = History()
    history.observe(0.0, state(), {"a": report("a", 1000, 900, {})})
    sample = history.observe(5.0, state(), {"a": report("a", 20, 10, {}), "c": report("c", 500, 400, {})})
    assert sample is not None
    assert sample.arrivals == 20 / 5  # not negative; the newcomer "c" adds nothing yet
    assert sample.admissions == 10 / 5


def test_sheds_by_reason_over_the_hour_most_first() -> None:
    history = History()
    history.observe(0.0, state(), {"a": report("a", 0, 0, {"limit": 0, "codel": 0})})
    history.observe(5.0, state(), {"a": report("a", 0, 0, {"limit": 10, "codel": 30})})
    history.observe(10.0, state(), {"a": report("a", 0, 0, {"limit": 25, "codel": 30})})
    assert history.shed_totals(since=0.0) == {"codel": 30, "limit": 25}
    assert history.shed_totals(since=7.0) == {"limit": 15}


def test_the_history_keeps_an_hour() -> None:
    history = History(points=3)
    for n in range(6):
        history.observe(n * 5.0, state(waiting=n), {})
    assert [sample.waiting for sample in history.samples] == [3, 4, 5]


def test_the_scale_is_a_round_number_above_the_highest_value() -> None:
    assert [_nice(value) for value in (0, 0.3, 1, 1.5, 7, 12, 99, 101, 4500)] == [
        1,
        1,
        1,
        2,
        10,
        20,
        100,
        200,
        5000,
    ]
    drawn = chart("waiting", [(0.0, 0.0), (1800.0, 50.0), (3600.0, 100.0)], now=3600.0)
    assert drawn.top == 100
    assert drawn.latest == 100
    assert drawn.highest == 100
    assert drawn.count == 3
    first, middle, last = (tuple(map(float, point.split(","))) for point in drawn.points.split())
    assert first[0] < middle[0] < last[0] == 600.0
    assert first[1] == 120.0
    assert last[1] == 6.0
    assert chart("p99_ms", [(0.0, None)], now=10.0).points == ""
