"""The open-model generator: visitors arrive when the shape says, whatever the server is doing.

Arrivals are scheduled in advance from the shape and a seed; each starts its journey at its time
in a task of its own, so a slow server never slows the arrivals (the mistake of closed-loop tools,
which hide an overload by waiting for it). If the generator itself cannot keep the schedule, its
lateness is measured and the run is flagged."""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haven.surge.http import Browser
from haven.surge.journeys import JOURNEYS, Behaviour, CounterWatch, Left, Postman, Visitor
from haven.surge.record import Recorder, histogram, percentiles
from haven.surge.shapes import Shape

SCRAPED = (
    "haven_shield_queue_length",
    "haven_shield_queueing",
    "haven_shield_limit",
    "haven_shield_in_flight",
    "haven_shield_admission_rate",
    "haven_shield_line_speed",
    "haven_shield_pressure",
    "haven_shield_hash_lane_busy",
    "haven_shield_hash_lane_waiting",
    "haven_shield_admitted_total",
)
LAG_FLAG_MS = 100.0  # arrivals this late at the 99th percentile flag the run
LATE_SHARE_FLAG = 0.01
CPU_FLAG = 0.9  # the generator's share of its core


@dataclass
class Plan:
    target: str
    shape: Shape
    mix: dict[str, float]
    behaviour: Behaviour = field(default_factory=Behaviour)
    seed: int = 2016
    slo: float = 1.0
    mail_dir: Path | None = None
    poisson: bool = True
    drain: float = 60.0  # seconds allowed after the last arrival for journeys to finish
    forwarded: bool = False  # give each visitor an address of their own in X-Forwarded-For
    run_id: str = ""


@dataclass
class Outcome:
    plan: Plan
    recorder: Recorder
    started_at: float  # wall clock
    elapsed: float
    scheduled: int
    started: int
    cpu_seconds: float
    loop_lag: dict[str, float | int]
    server: list[dict[str, float]]  # per second, what /metrics said
    unfinished: Counter[str]
    started_by_kind: Counter[str]


async def run(plan: Plan) -> Outcome:
    _raise_file_limit()
    rng = random.Random(plan.seed)
    kinds = list(plan.mix)
    weights = [plan.mix[k] for k in kinds]
    arrivals = list(plan.shape.arrivals(plan.seed, plan.poisson))
    recorder = Recorder(slo=plan.slo)
    reads_mail = bool(plan.mix.get("applicant")) or plan.behaviour.leave_email > 0
    postman = Postman(plan.mail_dir) if plan.mail_dir is not None and reads_mail else None
    if postman is not None:
        postman.start()
    run_id = plan.run_id or f"{int(time.time())}"
    started_at = time.time()
    origin = time.monotonic()

    def clock() -> float:
        return time.monotonic() - origin

    watch = CounterWatch(Browser.to(plan.target), clock) if plan.behaviour.leave_email > 0 else None
    if watch is not None:
        watch.start()
    tasks: dict[asyncio.Task[None], str] = {}
    started_by_kind: Counter[str] = Counter()
    server: list[dict[str, float]] = []
    loop_lag = _LoopLag()
    watchers = [
        asyncio.create_task(_tick(recorder, clock)),
        asyncio.create_task(_scrape(plan.target, clock, server)),
        asyncio.create_task(loop_lag.watch()),
    ]
    cpu_before = _cpu()
    started = 0
    try:
        for number, at in enumerate(arrivals):
            delay = at - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            recorder.arrival(at, clock())
            kind = rng.choices(kinds, weights)[0]
            headers = [("X-Forwarded-For", _address(number))] if plan.forwarded else []
            visitor = Visitor(
                number,
                kind,
                Browser.to(plan.target, headers),
                recorder,
                clock,
                plan.behaviour,
                random.Random(rng.getrandbits(64)),
                postman,
                run_id,
                watch,
            )
            task = asyncio.create_task(_journey(visitor, at))
            tasks[task] = kind
            task.add_done_callback(lambda done: tasks.pop(done, None))
            started_by_kind[kind] += 1
            started += 1
        end = plan.shape.duration
        if clock() < end:
            await asyncio.sleep(end - clock())
        if tasks:
            await asyncio.wait(list(tasks), timeout=plan.drain)
    finally:
        unfinished: Counter[str] = Counter(tasks.values())
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        if postman is not None:
            await postman.stop()
        if watch is not None:
            await watch.stop()
    for entry in recorder.queued:
        if entry.admitted < 0 and entry.gave_up < 0:
            entry.gave_up = -2.0  # still waiting when the run ended
    return Outcome(
        plan,
        recorder,
        started_at,
        clock(),
        len(arrivals),
        started,
        _cpu() - cpu_before,
        percentiles(loop_lag.histogram),
        server,
        unfinished,
        started_by_kind,
    )


async def _journey(visitor: Visitor, arrived: float) -> None:
    recorder = visitor.recorder
    try:
        await JOURNEYS[visitor.kind](visitor, arrived)
    except Left as left:
        recorder.outcome(visitor.kind, str(left), visitor.clock())
    except asyncio.CancelledError:
        recorder.outcome(visitor.kind, "still going when the run ended", visitor.clock())
        if visitor.queued is not None and visitor.queued.admitted < 0 and visitor.queued.gave_up < 0:
            recorder.waiting_now -= 1
        raise
    except Exception as error:  # a broken page must not stop the crowd; it is counted
        recorder.outcome(visitor.kind, f"failed: {type(error).__name__}: {error}"[:200], visitor.clock())
    else:
        recorder.outcome(visitor.kind, "completed", visitor.clock())
    finally:
        visitor.browser.close()


async def _tick(recorder: Recorder, clock: Any) -> None:
    second = 1
    while True:
        await asyncio.sleep(max(0.0, second - clock()))
        recorder.tick(float(second))
        second += 1


async def _scrape(target: str, clock: Any, into: list[dict[str, float]]) -> None:
    """Once a second, the shield's gauges from /metrics (absent with the shield off). Each worker
    reports its own (labelled ``worker``): the room's figures (one shared room, as each worker last
    read it) and the pressure are taken at their highest; the rest (limits, work, passes granted)
    are added up."""
    highest = (
        "haven_shield_queue_length",
        "haven_shield_queueing",
        "haven_shield_line_speed",
        "haven_shield_pressure",
    )
    browser = Browser.to(target)
    second = 1
    try:
        while True:
            await asyncio.sleep(max(0.0, second - clock()))
            second += 1
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    response = await browser.send("GET", "/metrics")
                values: dict[str, float] = {"t": round(clock(), 2)}
                for line in response.text.splitlines():
                    series, _, value = line.rpartition(" ")
                    name = series.partition("{")[0]
                    if name in SCRAPED:
                        key = name.removeprefix("haven_shield_")
                        if key not in values:
                            values[key] = float(value)
                        elif name in highest:
                            values[key] = max(values[key], float(value))
                        else:
                            values[key] += float(value)
                into.append(values)
    finally:
        browser.close()


class _LoopLag:
    """How late the generator's event loop wakes up from a 10 ms sleep: its own overload."""

    def __init__(self) -> None:
        self.histogram = histogram()

    async def watch(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            late = time.monotonic() - before - 0.01
            self.histogram.record_value(max(1, int(late * 1e6)))


def _address(number: int) -> str:
    """A private address (10.0.0.0/8) of the visitor's own, for a Haven that trusts its proxy."""
    return f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
