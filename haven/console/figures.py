"""The room live, for the console: every few seconds each worker reads the room's shared state and
every worker's last report (``Shield.report``), turns the counters into rates, and keeps the last
hour of them in memory; the console draws them as SVG on the server (no script, no chart library:
the page works as it is, and the CSP stays strict).

What the figures are, cluster-wide:

- *arrivals*: new visitors per second, who took a place in line or were let in at once;
- *admissions*: passes granted per second (from the line or at once);
- *in line*: people waiting, from the shared counter (those who left count until passed);
- *pressure*: the mean over workers of the limiter's pressure (0: idle, 1: shedding throughout);
- *p99*: the highest of the workers' 99th percentiles of the requests let through, over their
  last ten seconds;
- *sheds*: requests answered 503 or 429 per second, and by reason in the table;
- *no-shows*: places the counter passed that nobody claimed, per minute.

A worker seen for the first time adds nothing until its second report (its counters started before
the console saw them), and a worker that restarted starts from zero; the history starts empty when
the worker serving the console starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from haven.shield.admin import REPORTS_FRESH, report_views
from haven.shield.store import RoomState, Store, StoreUnavailable

Reading = Callable[[], Awaitable[tuple[RoomState, dict[str, str]]]]

logger = logging.getLogger("haven.console")

SAMPLE_EVERY: Final = 5.0  # seconds between readings
SPAN: Final = 3600.0  # the history kept: an hour
POINTS: Final = int(SPAN / SAMPLE_EVERY)


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the epoch
    arrivals: float  # per second
    admissions: float  # per second
    waiting: int
    pressure: float
    p99_ms: float | None
    sheds: float  # per second, every reason
    no_shows: float  # per minute
    workers: int
    shed_reasons: Mapping[str, float] = field(default_factory=dict)  # since the last sample, by reason


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass
class _Seen:
    arrivals: float
    admitted: float
    sheds: dict[str, float]


class History:
    """The last hour of samples, made from successive readings of the room (``observe``)."""

    def __init__(self, points: int = POINTS) -> None:
        self.samples: deque[Sample] = deque(maxlen=points)
        self._workers: dict[str, _Seen] = {}
        self._lapsed: int | None = None
        self._at: float | None = None

    def observe(self, at: float, state: RoomState, reports: Mapping[str, str]) -> Sample | None:
        """Add the sample between the previous reading and this one (None at the first reading)."""
        views = report_views(reports)
        arrivals = admitted = 0.0
        reasons: dict[str, float] = {}
        seen: dict[str, _Seen] = {}
        for view in views:
            worker = str(view.get("worker", ""))
            raw = view.get("shed_reasons")
            sheds = {str(k): _number(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
            now_seen = _Seen(_number(view.get("arrivals")), _number(view.get("admitted")), sheds)
            seen[worker] = now_seen
            before = self._workers.get(worker)
            if before is None:
                continue
            # A counter that went down is a worker that restarted: it counts from zero again.
            arrivals += _grown(before.arrivals, now_seen.arrivals)
            admitted += _grown(before.admitted, now_seen.admitted)
            for reason, count in sheds.items():
                reasons[reason] = reasons.get(reason, 0.0) + _grown(before.sheds.get(reason, 0.0), count)
        self._workers = seen
        previous_at, previous_lapsed = self._at, self._lapsed
        self._at, self._lapsed = at, state.lapsed
        if previous_at is None or at <= previous_at:
            return None
        elapsed = at - previous_at
        lapsed = _grown(float(previous_lapsed or 0), float(state.lapsed))
        p99s = [_number(view.get("p99_ms")) for view in views if view.get("p99_ms") is not None]
        pressures = [_number(view.get("pressure")) for view in views]
        sample = Sample(
            at=at,
            arrivals=arrivals / elapsed,
            admissions=admitted / elapsed,
            waiting=state.waiting,
            pressure=sum(pressures) / len(pressures) if pressures else 0.0,
            p99_ms=max(p99s) if p99s else None,
            sheds=sum(reasons.values()) / elapsed,
            no_shows=lapsed / elapsed * 60,
            workers=len(views),
            shed_reasons={reason: count for reason, count in reasons.items() if count},
        )
        self.samples.append(sample)
        return sample

    def shed_totals(self, since: float) -> dict[str, int]:
        """Requests shed by reason in the samples after ``since`` (seconds since the epoch), most
        first."""
        totals: dict[str, float] = {}
        for sample in self.samples:
            if sample.at > since:
                for reason, count in sample.shed_reasons.items():
                    totals[reason] = totals.get(reason, 0.0) + count
        return dict(sorted(((r, round(n)) for r, n in totals.items()), key=lambda item: (-item[1], item[0])))


def _grown(before: float, now: float) -> float:
    return now - before if now >= before else now


class Sampler:
    """Reads the room every ``every`` seconds into a ``History``, in the background."""

    def __init__(
        self,
        read: Reading,
        history: History | None = None,
        every: float = SAMPLE_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read = read
        self.history = history or History()
        self.every = every
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> Sample | None:
        try:
            state, reports = await self.read()
        except StoreUnavailable:
            return None
        return self.history.observe(self.clock(), state, reports)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:
                logger.exception("the console could not read the room; trying again")
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def reader(store: Store, room: str, now: Callable[[], float]) -> Reading:
    """The reading a sampler makes: the room's state and its workers' fresh reports."""

    async def read() -> tuple[RoomState, dict[str, str]]:
        at = now()
        return await store.state(room, at), await store.reports(room, at, REPORTS_FRESH)

    return read


# Drawing ------------------------------------------------------------------------------------------

WIDTH: Final = 600
HEIGHT: Final = 120
PAD_LEFT: Final = 4
PAD_TOP: Final = 6


@dataclass(frozen=True)
class Chart:
    """One series drawn: the polyline's points in the SVG's coordinates, the scale's top, and the
    figures said in words beside it."""

    key: str
    points: str
    top: float
    latest: float | None
    highest: float | None
    count: int


def _nice(top: float) -> float:
    """A round number at or above ``top`` for the scale (1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return 1.0
    power = 10.0 ** (len(str(int(top))) - 1)
    for step in (1, 2, 5, 10):
        if top <= step * power:
            return step * power
    return 10 * power


def chart(key: str, values: Sequence[tuple[float, float | None]], now: float, span: float = SPAN) -> Chart:
    """The series ``values`` ((time, value) pairs, a value None where there is none) over the last
    ``span`` seconds before ``now``, scaled to the chart's box."""
    shown = [(at, value) for at, value in values if at >= now - span and value is not None]
    numbers = [value for _, value in shown if value is not None]
    top = _nice(max(numbers, default=0.0))
    width, height = WIDTH - PAD_LEFT, HEIGHT - PAD_TOP
    points = " ".join(
        f"{PAD_LEFT + (at - (now - span)) / span * width:.1f},"
        f"{PAD_TOP + height - (value or 0.0) / top * height:.1f}"
        for at, value in shown
    )
    return Chart(
        key,
        points,
        top,
        latest=numbers[-1] if numbers else None,
        highest=max(numbers) if numbers else None,
        count=len(numbers),
    )


SERIES: Final[tuple[str, ...]] = (
    "arrivals",
    "admissions",
    "waiting",
    "pressure",
    "p99_ms",
    "sheds",
    "no_shows",
)


def charts(history: History, now: float) -> list[Chart]:
    samples = list(history.samples)
    return [chart(key, [(s.at, getattr(s, key)) for s in samples], now) for key in SERIES]
