"""The lane for password hashes: its slots, its bounded wait, and what it tells the room."""

from __future__ import annotations

import asyncio

import pytest

from haven.shield.lane import Lane, LaneFull


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def lane_with(slots: int, wait: float, clock: Clock | None = None) -> tuple[Lane, list[int]]:
    noted: list[int] = []
    lane = Lane(slots, wait, 0.05, lambda: noted.append(1), **({"now": clock} if clock else {}))
    return lane, noted


async def test_a_waiter_gets_the_next_free_slot_in_turn() -> None:
    lane, noted = lane_with(1, 1.0)
    await lane.enter()
    order: list[str] = []

    async def waiter(name: str) -> None:
        await lane.enter()
        order.append(name)
        lane.leave()

    tasks = [asyncio.create_task(waiter(name)) for name in ("first", "second")]
    await asyncio.sleep(0.1)
    assert lane.waiting == 2
    assert lane.busy == 1
    lane.leave()
    await asyncio.gather(*tasks)
    assert order == ["first", "second"]
    assert lane.served == 3
    assert lane.busy == 0
    assert lane.sheds == 0
    assert noted  # the waits were longer than pressure_after: the room is told


async def test_a_full_lane_sheds_after_its_wait_and_says_so() -> None:
    lane, noted = lane_with(2, 0.1)
    await lane.enter()
    await lane.enter()
    with pytest.raises(LaneFull):
        await lane.enter()
    assert lane.sheds == 1
    assert lane.waiting == 0
    assert noted == [1]
    lane.leave()
    await lane.enter()  # a slot that came free is taken at once
    assert lane.busy == 2
    assert noted == [1]


async def test_utilization_is_the_time_weighted_share_of_slots_in_use() -> None:
    clock = Clock()
    lane, _ = lane_with(2, 1.0, clock)
    assert lane.utilization() == 0.0
    await lane.enter()
    clock.t += 10.0  # one of two slots for ten time constants
    assert lane.utilization() == pytest.approx(0.5, abs=1e-3)
    await lane.enter()
    clock.t += 10.0
    assert lane.utilization() == pytest.approx(1.0, abs=1e-3)
    lane.leave()
    lane.leave()
    clock.t += 1.0  # one time constant later, 1/e of the way back
    assert lane.utilization() == pytest.approx(1.0 / 2.718281828, abs=1e-3)
