"""Traffic shapes: the schedule a shape gives has the arrivals per second the shape says."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from haven.surge.shapes import Shape, ShapeError, constant, election_night, from_csv, named, step


def per_second(times: list[float]) -> Counter[int]:
    return Counter(int(t) for t in times)


def test_even_arrivals_match_a_ramp_second_by_second() -> None:
    shape = Shape("ramp", ((0, 10), (20, 110)))
    counts = per_second(list(shape.arrivals(seed=1, poisson=False)))
    for second in range(20):
        expected = shape.expected(second, second + 1)
        assert abs(counts[second] - expected) <= 1, (second, counts[second], expected)
    assert sum(counts.values()) == pytest.approx(shape.expected(), abs=1)


def test_poisson_arrivals_stay_within_statistical_tolerance_of_the_shape() -> None:
    shape = step(base=50, multiple=10, duration=30, at=10)
    times = list(shape.arrivals(seed=7))
    assert times == sorted(times)
    counts = per_second(times)
    for second in range(30):
        expected = shape.expected(second, second + 1)
        # A Poisson count: five standard deviations, so the check is about the shape, not luck.
        assert abs(counts[second] - expected) <= 5 * math.sqrt(expected) + 1, (second, counts[second])
    assert abs(len(times) - shape.expected()) <= 5 * math.sqrt(shape.expected())


def test_the_same_seed_gives_the_same_crowd_and_another_seed_another() -> None:
    shape = constant(20, 5)
    assert list(shape.arrivals(3)) == list(shape.arrivals(3))
    assert list(shape.arrivals(3)) != list(shape.arrivals(4))


def test_election_night_is_quiet_then_steep_then_flat_then_slow_to_decay() -> None:
    night = election_night(base=2, multiple=50, speed=60)
    assert night.duration == pytest.approx(220)  # 3 h 40 min played in 220 s
    assert night.rate(10) == 2
    assert night.rate(40) == 100  # the peak, ten real minutes after the turn
    assert night.rate(70) == 100
    assert 6 < night.rate(200) < 100
    ramp = (night.rate(40) - night.rate(30)) / 10
    decay = (night.rate(100) - night.rate(220)) / 120
    assert ramp > 10 * decay


def test_a_csv_shape_is_read_with_or_without_a_header(tmp_path: Path) -> None:
    path = tmp_path / "night.csv"
    path.write_text("seconds,arrivals\n0,1\n60,30\n# a comment\n120,5\n")
    shape = from_csv(path, speed=2)
    assert shape.points == ((0.0, 1.0), (30.0, 30.0), (60.0, 5.0))
    assert named(str(path), base=1, multiple=1, duration=1, speed=2) == Shape("night", shape.points)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,1\nten,2\n", "line 2"),
        ("0,1\n", "at least two points"),
        ("0,1\n5,-2\n", "0 or more"),
        ("0,1\n5,2\n5,3\n", "times must increase"),
        ("3,1\n5,2\n", "starts at time 0"),
    ],
)
def test_a_bad_csv_shape_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ShapeError, match=message):
        from_csv(path)


def test_unknown_shapes_and_impossible_parameters_are_refused() -> None:
    with pytest.raises(ShapeError, match="unknown shape"):
        named("tuesday", base=1, multiple=2, duration=10, speed=1)
    with pytest.raises(ShapeError, match="no such file"):
        named("missing.csv", base=1, multiple=2, duration=10, speed=1)
    with pytest.raises(ShapeError):
        election_night(base=0, multiple=50)
    with pytest.raises(ShapeError):
        step(1, 2, duration=10, at=10)
