"""Traffic shapes as data: arrivals per second over time, as straight lines between points, and the
arrival times they give.

An election night, as it happened in 2016 and as the shape replays it (times of the real night; the
``speed`` divides them, so ``speed=60`` plays the night in minutes):

- a quiet evening at the base rate (30 min);
- the ramp to the peak within minutes, as the results turn (10 min);
- a plateau at the peak (60 min);
- a slow decay to three times the base rate (2 h).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NAMES = ("election-night", "step", "constant")


class ShapeError(ValueError):
    """A shape that cannot be played: its message says what is wrong with it."""


@dataclass(frozen=True)
class Shape:
    name: str
    points: tuple[tuple[float, float], ...]  # (seconds from the start, arrivals per second)

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ShapeError("a shape needs at least two points (time, arrivals per second)")
        if self.points[0][0] != 0:
            raise ShapeError("a shape starts at time 0")
        for (t0, _), (t1, _) in zip(self.points, self.points[1:], strict=False):
            if t1 <= t0:
                raise ShapeError(f"times must increase: {t1:g} s comes after {t0:g} s")
        for t, rate in self.points:
            if rate < 0 or not math.isfinite(rate):
                raise ShapeError(f"arrivals per second must be 0 or more (at {t:g} s: {rate:g})")

    @property
    def duration(self) -> float:
        return self.points[-1][0]

    @property
    def peak(self) -> float:
        return max(rate for _, rate in self.points)

    def rate(self, t: float) -> float:
        for (t0, r0), (t1, r1) in zip(self.points, self.points[1:], strict=False):
            if t0 <= t <= t1:
                return r0 + (r1 - r0) * (t - t0) / (t1 - t0)
        return 0.0

    def expected(self, start: float = 0.0, end: float | None = None) -> float:
        """Arrivals expected between ``start`` and ``end`` (the integral of the rate)."""
        end = self.duration if end is None else end
        total = 0.0
        for (t0, _), (t1, _) in zip(self.points, self.points[1:], strict=False):
            a, b = max(t0, start), min(t1, end)
            if a < b:
                total += (self.rate(a) + self.rate(b)) / 2 * (b - a)
        return total

    def arrivals(self, seed: int, poisson: bool = True) -> Iterator[float]:
        """Arrival times in seconds from the start. Poisson (independent visitors, seeded) by
        default; ``poisson=False`` spaces them evenly along the expected count."""
        rng = random.Random(seed)
        target = rng.expovariate(1.0) if poisson else 0.5
        before = 0.0  # arrivals expected before this segment
        for (t0, r0), (t1, r1) in zip(self.points, self.points[1:], strict=False):
            slope = (r1 - r0) / (t1 - t0)
            mass = (r0 + r1) / 2 * (t1 - t0)
            while target - before <= mass:
                need = target - before
                # Solve r0·x + slope·x²/2 = need for x in [0, t1 - t0], in the stable form.
                root = math.sqrt(max(0.0, r0 * r0 + 2 * slope * need))
                x = 2 * need / (r0 + root) if r0 + root > 0 else 0.0
                yield t0 + min(x, t1 - t0)
                target += rng.expovariate(1.0) if poisson else 1.0
            before += mass


def election_night(base: float, multiple: float, speed: float = 1.0) -> Shape:
    if base <= 0 or multiple < 1 or speed <= 0:
        raise ShapeError("election-night needs a base rate above 0, a multiple of 1 or more, a speed above 0")
    peak = base * multiple
    minutes = [(0, base), (30, base), (40, peak), (100, peak), (220, base * 3)]
    return Shape("election-night", tuple((m * 60 / speed, rate) for m, rate in minutes))


def step(base: float, multiple: float, duration: float, at: float | None = None) -> Shape:
    """``base`` arrivals per second, then ``base × multiple`` from ``at`` (by default a third in)."""
    if duration <= 0:
        raise ShapeError("a step needs a duration above 0")
    at = duration / 3 if at is None else at
    if not 0 < at < duration:
        raise ShapeError("the step must come after the start and before the end")
    edge = min(0.001, at / 10)
    peak = base * multiple
    return Shape("step", ((0, base), (at - edge, base), (at, peak), (duration, peak)))


def constant(rate: float, duration: float) -> Shape:
    if duration <= 0:
        raise ShapeError("a constant shape needs a duration above 0")
    return Shape("constant", ((0, rate), (duration, rate)))


def from_csv(path: Path, speed: float = 1.0) -> Shape:
    """A shape from rows of (seconds, arrivals per second); a header row is allowed."""
    points: list[tuple[float, float]] = []
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                t, rate = float(row[0]), float(row[1])
            except (ValueError, IndexError):
                if number == 1:
                    continue  # the header
                raise ShapeError(f"{path.name} line {number}: expected two numbers, time and rate") from None
            points.append((t / speed, rate))
    return Shape(path.stem, tuple(points))


def named(name: str, *, base: float, multiple: float, duration: float, speed: float) -> Shape:
    if name == "election-night":
        return election_night(base, multiple, speed)
    if name == "step":
        return step(base, multiple, duration)
    if name == "constant":
        return constant(base * multiple, duration)
    path = Path(name)
    if path.suffix == ".csv":
        if not path.exists():
            raise ShapeError(f"no such file: {name}")
        return from_csv(path, speed)
    raise ShapeError(f"unknown shape {name!r}: use {', '.join(NAMES)} or a .csv file")
