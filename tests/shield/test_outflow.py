"""The outflow controller as a table: what the origin says, and the rate it makes of it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from haven.shield.outflow import MAX_NO_SHOW, Reading, next_rate, pace, used


@dataclass(frozen=True)
class Bounds:
    min_rate: float = 1.0
    max_rate: float = 50.0
    start_rate: float = 5.0


USED = ((1.0, 6),) * 5  # six people a second over five ticks: more than half of a rate of 10
UNUSED = ((1.0, 4),) * 5  # four: less than half
CALM = ((1.0, 1),) * 5  # one a second: less than half of any rate above 2
CROWDED = ((1.0, 30),) * 5  # thirty a second: more than half of a rate of 49
NOBODY = ((0.0, 0),)  # the first tick: no time has passed

# pressure, utilisation, use, people waiting, admits directly, rate -> the next rate
ROWS = [
    pytest.param(0.5, 0.9, USED, True, False, 10.0, 8.0, id="pressure 50 %: ×0.8"),
    pytest.param(1.0, 0.0, USED, True, False, 10.0, 8.0, id="full pressure: ×0.8 too, whatever the use"),
    pytest.param(0.5, 0.9, USED, True, False, 1.1, 1.0, id="shrinking stops at min_rate"),
    pytest.param(0.3, 0.5, USED, True, False, 10.0, 9.5, id="pressure 20-50 %: ×0.95"),
    pytest.param(0.2, 0.5, UNUSED, False, False, 10.0, 9.5, id="pressure 20 %: ×0.95, used or not"),
    pytest.param(0.0, 0.0, USED, True, False, 10.0, 11.1, id="idle origin, line used: the largest step"),
    pytest.param(0.1, 0.5, USED, True, False, 10.0, 10.0 * (1 + 0.1 / 3) + 0.1, id="a third below roomy"),
    pytest.param(0.0, 0.75, USED, True, False, 10.0, 10.0, id="at roomy: held"),
    pytest.param(0.0, 0.9, USED, True, False, 10.0, 10.0, id="fuller than roomy, no pressure: held"),
    pytest.param(0.0, 0.0, UNUSED, True, False, 10.0, 10.0, id="rate not used: held"),
    pytest.param(0.0, 0.0, USED, False, False, 10.0, 10.0, id="nobody waits, queueing: held"),
    pytest.param(0.0, 0.0, USED, False, True, 10.0, 11.1, id="idle room, direct admissions use it"),
    pytest.param(0.0, 0.0, CROWDED, True, False, 49.0, 50.0, id="growing stops at max_rate"),
    pytest.param(0.0, 0.0, CALM, False, True, 10.0, 9.8, id="idle and unused: sinks to the start"),
    pytest.param(0.0, 0.0, CALM, False, True, 5.05, 5.0, id="sinking stops at start_rate"),
    pytest.param(0.0, 0.0, CALM, False, True, 3.0, 3.0, id="below the start, unused: held"),
    pytest.param(0.0, 0.0, NOBODY, True, False, 10.0, 10.0, id="no time passed: not used, held"),
]


@pytest.mark.parametrize(("pressure", "utilization", "use", "waiting", "direct", "rate", "expected"), ROWS)
def test_the_next_rate(
    pressure: float,
    utilization: float,
    use: tuple[tuple[float, int], ...],
    waiting: bool,
    direct: bool,
    rate: float,
    expected: float,
) -> None:
    reading = Reading(pressure, utilization, use, waiting=waiting, admits_directly=direct)
    assert next_rate(rate, reading, Bounds()) == pytest.approx(expected)


def test_the_rate_is_used_when_the_people_let_in_make_up_half_of_it() -> None:
    assert used(10.0, ((1.0, 5),) * 5)
    assert not used(10.0, ((1.0, 5),) * 4 + ((1.0, 4),))
    assert used(10.0, ((0.5, 3), (0.5, 2)))  # seconds, not ticks, are what the rate is over
    assert not used(10.0, ())


@pytest.mark.parametrize(
    ("no_show", "expected"),
    [(0.0, 4.0), (0.5, 8.0), (0.75, 16.0), (MAX_NO_SHOW, 20.0), (0.95, 20.0)],
)
def test_the_counter_moves_faster_by_the_no_shows_within_a_bound(no_show: float, expected: float) -> None:
    assert pace(4.0, no_show) == pytest.approx(expected)
