"""The election-night simulation (``bench/election_night.py``) on a small night: a few thousand
arrivals against a small origin, the real room on a virtual clock. The full-scale night is a
benchmark (``python -m bench.waiting``), never a test."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace

import pytest

from bench.election_night import Night, Outcome, kendall_tau, simulate

# Arrivals an hour: 2 a second, up to 8 for nine minutes, back down, over 18 minutes (about 6,600
# people), against an origin that takes about 4 a second (600 people in at once, two minutes each).
SMALL = Night(
    capacity=60.0,
    profile=((0.0, 7200.0), (0.05, 28800.0), (0.2, 28800.0), (0.25, 7200.0), (0.3, 0.0)),
    visit_seconds=120.0,
    visit_requests=12.0,
    leave_share=0.15,
    patience=(60.0, 600.0),
    settle_hours=2.0,
)


@pytest.fixture(scope="module")
def night() -> Outcome:
    return asyncio.run(simulate(SMALL))


def test_kendall_tau_counts_the_pairs_out_of_order() -> None:
    assert kendall_tau([0, 1, 2, 3]) == 1.0
    assert kendall_tau([3, 2, 1, 0]) == -1.0
    assert kendall_tau([1, 0, 2]) == pytest.approx(1 / 3)  # 1 of 3 pairs swapped: (2 - 1) / 3
    ranks = [5, 0, 3, 1, 4, 2]
    discordant = sum(1 for i in range(6) for j in range(i + 1, 6) if ranks[i] > ranks[j])
    assert kendall_tau(ranks) == pytest.approx(1 - 2 * discordant / 15)


def test_the_line_forms_and_drains_and_everyone_is_accounted_for(night: Outcome) -> None:
    assert 5000 < night.arrivals < 8000
    assert night.arrivals == night.direct + night.tickets
    assert night.peak_queue > 500  # the origin could not take them all at once
    assert night.drained_at_hours > night.peak_queue_at_hours > night.queue_started_at_hours > 0
    # Nobody who stayed was turned away: each ticket was claimed, or its holder gave up.
    assert night.refused_claims == 0
    assert night.claimed + night.left == night.tickets
    assert night.left > 0
    assert night.ranged == night.claimed  # everyone let in from the line had been shown a range


def test_the_origin_is_kept_within_its_capacity(night: Outcome) -> None:
    assert night.seconds_over_capacity <= night.ticks // 100
    assert night.peak_origin_load < 1.5


def test_people_go_in_in_the_order_they_came(night: Outcome) -> None:
    assert night.kendall_tau >= 0.99


def test_the_eta_figures_are_measured(night: Outcome) -> None:
    assert 0 <= night.within_first_range <= 1
    assert night.early + night.late + night.within_first_range == pytest.approx(1.0)
    assert night.eta_median_error >= 0
    assert night.median_wait_seconds > 0
    assert sum(hour["people"] for hour in night.errors_by_hour) == night.ranged
    assert night.trace
    assert all(point["speed"] >= 0 for point in night.trace)


def test_the_same_seed_gives_the_same_night(night: Outcome) -> None:
    again = asyncio.run(simulate(SMALL))
    assert {**asdict(again), "wall_seconds": 0} == {**asdict(night), "wall_seconds": 0}
    other = asyncio.run(simulate(replace(SMALL, seed=SMALL.seed + 1)))
    assert other.arrivals != night.arrivals or other.claimed != night.claimed
