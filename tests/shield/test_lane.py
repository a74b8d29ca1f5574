"""The lane for password hashes: its slots, its bounded wait, and what it tells the room."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from haven.shield.lane import Lane, LaneFull


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds: a poll, a bounded number of turns of the loop."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)  # one turn of the loop
    raise AssertionError("the condition never held")


def lane_with(slots: int, wait: float, clock: Clock | None = None) -> tuple[Lane, list[int]]:
    noted: list[int] = []
    lane = Lane(slots, wait, 0.05, lambda: noted.append(1), **({"now": clock} if clock else {}))
    return lane, noted


async def test_a_waiter_gets_the_next_free_slot_in_turn() -> None:
    clock = Clock()
    lane, noted = lane_with(1, 1.0, clock)
    await lane.enter()
    order: list[str] = []

    async def waiter(name: str) -> None:
        await lane.enter()
        order.append(name)
        lane.leave()

    tasks = [asyncio.create_task(waiter(name)) for name in ("first", "second")]
    await until(lambda: lane.waiting == 2)
    assert lane.busy == 1
    assert not noted  # waiting is not pressure yet
    clock.t += 0.1  # longer than pressure_after
    lane.leave()
    await asyncio.gather(*tasks)
    assert order == ["first", "second"]
    assert lane.served == 3
    assert lane.busy == 0
    assert lane.sheds == 0
    assert noted  # the waits were longer than pressure_after: the room is told


async def test_a_short_wait_for_a_slot_is_not_pressure() -> None:
    clock = Clock()
    lane, noted = lane_with(1, 1.0, clock)
    await lane.enter()
    waiting = asyncio.create_task(lane.enter())
    await until(lambda: lane.waiting == 1)
    clock.t += 0.01  # within pressure_after
    lane.leave()
    await waiting
    assert lane.busy == 1
    assert not noted


async def test_a_full_lane_sheds_after_its_wait_and_says_so() -> None:
    lane, noted = lane_with(2, 0.1)
    await lane.enter()
    await lane.enter()
    shed = asyncio.create_task(lane.enter())
    await until(lambda: lane.waiting == 1)  # it waits for a slot first
    assert not shed.done()
    with pytest.raises(LaneFull):
        await shed  # then, no slot having come free within the wait, it is shed
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
