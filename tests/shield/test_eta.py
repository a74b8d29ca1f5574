"""The ETA model on its own: the no-show measure, the workers' worth, the speed and the range."""

from __future__ import annotations

import pytest

from haven.shield.eta import (
    CLAIM_LAG,
    HOLD_WITHIN,
    MAX_WORKERS,
    MEASURE_TICKS,
    NO_SHOW_WINDOW,
    LineMeter,
    SpeedBand,
    due_soon,
    wait_range,
)
from haven.shield.outflow import MAX_NO_SHOW
from haven.shield.store import Mode, RoomState

LINE = 10_000  # tickets issued: a line longer than any test moves through


def reading(
    serving: int, claimed: int, *, mode: Mode = "auto", rate: float = 0.0, prequeue: int = -1
) -> RoomState:
    return RoomState(
        issued=LINE,
        serving=serving,
        waiting=LINE - serving,
        passes=0,
        claimed=claimed,
        lapsed=0,
        mode=mode,
        rate=rate,
        queueing=True,
        prequeue=prequeue,
    )


def run(meter: LineMeter, ticks: int, *, moved: int, claims: int, pushed: float, start: int = 0) -> None:
    """Ticks ``start`` to ``start + ticks`` of a line whose counter moves ``moved`` a tick
    (``pushed`` of them by this worker) and in which ``claims`` people a tick come in."""
    for k in range(start, start + ticks):
        meter.measure(float(k), reading(serving=moved * k, claimed=claims * k))
        meter.pushed(pushed)


def test_no_shows_are_measured_once_the_windows_are_full() -> None:
    meter = LineMeter()
    full = NO_SHOW_WINDOW + CLAIM_LAG + 1
    run(meter, full - 1, moved=4, claims=2, pushed=4.0)
    assert meter.no_show == 0.0  # not enough history yet: nobody is assumed missing
    run(meter, 1, moved=4, claims=2, pushed=4.0, start=full - 1)
    assert meter.no_show == pytest.approx(0.5)  # half the people reached never came in


def test_the_no_show_rate_is_bounded_and_forgotten_when_the_line_ends() -> None:
    meter = LineMeter()
    run(meter, 60, moved=4, claims=0, pushed=4.0)
    assert meter.no_show == MAX_NO_SHOW  # nobody came: the counter is not sent flying
    meter.no_line()
    assert meter.no_show == 0.0


def test_with_one_worker_the_line_is_one_workers_worth() -> None:
    meter = LineMeter()
    run(meter, 20, moved=2, claims=2, pushed=2.0)
    assert meter.workers == pytest.approx(1.0)


def test_with_three_workers_the_line_moves_at_three_workers_worth() -> None:
    meter = LineMeter()
    run(meter, 30, moved=6, claims=6, pushed=2.0)
    assert meter.workers == pytest.approx(3.0, rel=0.01)
    assert meter.speed(reading(0, 0), 2.0) == pytest.approx(6.0, rel=0.01)


def test_an_implausible_share_is_believed_only_up_to_a_bound() -> None:
    meter = LineMeter()
    run(meter, 60, moved=1000, claims=1000, pushed=1.0)
    assert meter.workers == pytest.approx(MAX_WORKERS, rel=0.01)


def test_the_speed_follows_the_mode() -> None:
    meter = LineMeter()
    assert meter.speed(reading(0, 0), 4.0) == 4.0  # the controller's rate, one worker
    assert meter.speed(reading(0, 0, mode="rate", rate=7.0), 4.0) == 7.0  # the operator's, shared
    assert meter.speed(reading(0, 0, mode="paused"), 4.0) == 0.0
    assert meter.speed(reading(0, 0, mode="event"), 4.0) == 0.0  # before the draw
    assert meter.speed(reading(0, 0, mode="event", prequeue=20), 4.0) == 4.0


def test_the_range_runs_from_the_fast_end_to_the_slow_end_plus_a_tick() -> None:
    low, high = wait_range(30, 1.5, 2.5, 1.0)
    assert low == pytest.approx(30 / 2.5)
    assert high == pytest.approx(30 / 1.5 + 1.0)
    assert wait_range(0, 1.5, 2.5, 1.0) == (0.0, 0.0)  # reached
    assert wait_range(30, 0.0, 0.0, 1.0) == (-1.0, -1.0)  # the line does not move: no estimate


def test_checks_whose_turn_is_near_are_held() -> None:
    assert due_soon(0.0)
    assert due_soon(HOLD_WITHIN)
    assert not due_soon(HOLD_WITHIN + 0.1)
    assert not due_soon(-1.0)  # no estimate: nothing to wait for


def test_a_line_old_enough_is_told_its_own_measured_speed_not_the_controllers() -> None:
    meter = LineMeter()
    run(meter, MEASURE_TICKS // 2, moved=3, claims=3, pushed=3.0)
    assert meter.speed(reading(0, 0), 40.0) == 40.0  # too young: the controller's rate
    assert not meter.measuring
    run(meter, 3 * MEASURE_TICKS, moved=3, claims=3, pushed=3.0, start=MEASURE_TICKS // 2)
    assert meter.speed(reading(0, 0), 40.0) == pytest.approx(3.0)  # the counter's movement
    assert meter.measuring


def test_the_band_is_the_spread_of_the_lines_actual_movement_at_the_waits_horizon() -> None:
    band = SpeedBand()
    assert (band.low, band.high) == (0.75, 1.25)  # before it has seen anything
    for second in range(400):  # the counter moves at 2 a second, told 4: half as fast as said
        band.observe(float(second), 2 * second, 4.0, 5_000, moving=True)
    assert band.low == pytest.approx(0.5)
    assert band.high == pytest.approx(1.1)  # never narrower than ±10 %
    low, high = band.speeds(4.0)
    assert low == pytest.approx(2.0)
    assert high == pytest.approx(4.4)
    band.observe(400.0, 800, 4.0, 5_000, moving=False)  # a stopped line starts a new measure
    band.observe(401.0, 800, 4.0, 5_000, moving=True)
    assert band.low == pytest.approx(0.5)  # what was measured is kept until new ratios come
