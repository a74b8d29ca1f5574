"""What a surge run measures, and the arithmetic on it (fairness, ETA error), kept apart from the
generator so that it can be checked on synthetic data.

Every latency counts from the request's *intended* send time: for a visitor's first request, the
moment the schedule says they arrive; for the next ones, the end of their think time; for a redirect,
the answer that asked for it. A generator that falls behind therefore reports the delay as latency
instead of hiding it, and the time it fell behind is measured separately (``lag``)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # an hour, in microseconds
DIGITS = 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def percentiles(hist: HdrHistogram) -> dict[str, float | int]:
    """Milliseconds at the usual percentiles, with the count and the maximum."""
    count = int(hist.get_total_count())
    out: dict[str, float | int] = {"count": count}
    for p in PERCENTILES:
        out[f"p{p:g}"] = round(hist.get_value_at_percentile(p) / 1000, 2) if count else 0.0
    out["max"] = round(hist.get_max_value() / 1000, 2) if count else 0.0
    return out


def kendall_tau_distance(first: Sequence[float], second: Sequence[float]) -> float:
    """The share of pairs that the two orders rank differently (0: the same order; 1: reversed).
    ``first[i]`` and ``second[i]`` are the two keys of item ``i``; pairs tied in either are not
    counted as discordant. O(n log n): inversions counted by merge sort."""
    n = len(first)
    if n < 2:
        return 0.0
    order = sorted(range(n), key=lambda i: (first[i], second[i]))
    values = [second[i] for i in order]
    inversions = _inversions(values)
    return inversions / (n * (n - 1) / 2)


def _inversions(values: list[float]) -> int:
    """Pairs i < j with values[i] > values[j] (strictly): a bottom-up merge sort that counts."""
    count = 0
    width = 1
    n = len(values)
    source, target = values[:], values[:]
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if source[j] < source[i]:
                    target[k] = source[j]
                    count += mid - i
                    j += 1
                else:
                    target[k] = source[i]
                    i += 1
                k += 1
            target[k:hi] = source[i:mid] + source[j:hi]
        source, target = target, source
        width *= 2
    return count


def eta_error(predicted: float, actual: float) -> float:
    """|actual − predicted| ÷ actual, the waiting room's own definition (waits under 1 s count as 1 s)."""
    return abs(actual - predicted) / max(actual, 1.0)


@dataclass
class Queued:
    """One visitor's time in the waiting room."""

    arrived: float  # intended send time of the request that got them a place (run clock)
    joined: float  # when the waiting page with their ticket reached them
    predicted_low: float = -1.0  # the first ETA range the room gave them (seconds)
    predicted_high: float = -1.0
    admitted: float = -1.0  # when the answer carrying their pass reached them; -1: never
    gave_up: float = -1.0
    ticket: int = -1  # their ticket's number, read from the cookie: the room lets people in by it
    # The email road ("email me when it's my turn"), run clock; -1: not taken, or not reached.
    left_email: float = -1.0  # when the waiting page took their address
    turned: float = -1.0  # when the public state first showed the counter at their number
    mailed: float = -1.0  # when their email arrived in the mail folder
    via_link: bool = False  # the link in the email let them in

    @property
    def wait(self) -> float:
        return self.admitted - self.joined


@dataclass
class Second:
    """One second of the run."""

    arrivals: int = 0
    admissions: int = 0
    waiting: int = 0  # visitors in the waiting room at the end of the second
    completed: int = 0  # journeys finished
    answered: int = 0
    good: int = 0  # answered 2xx (or a redirect) within the SLO, waiting room excluded
    latencies: list[int] = field(default_factory=list)  # µs, of the requests answered in the second


@dataclass
class Recorder:
    slo: float  # seconds
    by_step: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(histogram))
    by_class: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(histogram))
    served: HdrHistogram = field(default_factory=histogram)  # answered by the site, not by the room
    room: HdrHistogram = field(default_factory=histogram)  # waiting pages and status checks
    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # "<class> completed|gave up in queue|…"
    seconds: dict[int, Second] = field(default_factory=lambda: defaultdict(Second))
    queued: list[Queued] = field(default_factory=list)
    lag: HdrHistogram = field(default_factory=histogram)  # µs each arrival started late
    late_arrivals: int = 0  # started more than LATE after their time
    timeouts: int = 0
    errors: int = 0
    # Run clock: (sent, given up) of each request that timed out; when each connection error came.
    timed_out: list[tuple[float, float]] = field(default_factory=list)
    failed: list[float] = field(default_factory=list)
    confirmations: list[tuple[str, str]] = field(default_factory=list)  # (profile number, email)
    completed_at: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    waiting_now: int = 0

    LATE = 0.1  # seconds

    def arrival(self, intended: float, started: float) -> None:
        self.seconds[int(intended)].arrivals += 1
        late = max(0.0, started - intended)
        self.lag.record_value(max(LOWEST_US, int(late * 1e6)))
        if late > self.LATE:
            self.late_arrivals += 1

    def answer(
        self, step: str, journey: str, status: int, intended: float, done: float, *, room: bool = False
    ) -> None:
        latency = max(LOWEST_US, int((done - intended) * 1e6))
        self.by_step[step].record_value(latency)
        self.by_class[journey].record_value(latency)
        (self.room if room else self.served).record_value(latency)
        self.statuses[str(status)] += 1
        second = self.seconds[int(done)]
        second.answered += 1
        second.latencies.append(latency)
        if not room and status < 400 and done - intended <= self.slo:
            second.good += 1

    def timeout(self, step: str, journey: str, sent: float, at: float) -> None:
        self.timeouts += 1
        self.statuses["timeout"] += 1
        self.timed_out.append((sent, at))

    def error(self, step: str, journey: str, at: float) -> None:
        self.errors += 1
        self.statuses["connection error"] += 1
        self.failed.append(at)

    def join(self, arrived: float, joined: float) -> Queued:
        entry = Queued(arrived, joined)
        self.queued.append(entry)
        self.waiting_now += 1
        return entry

    def admit(self, entry: Queued, at: float) -> None:
        entry.admitted = at
        self.seconds[int(at)].admissions += 1
        self.waiting_now -= 1

    def give_up(self, entry: Queued, at: float) -> None:
        entry.gave_up = at
        self.waiting_now -= 1

    def outcome(self, journey: str, what: str, at: float) -> None:
        self.outcomes[f"{journey}: {what}"] += 1
        if what == "completed":
            self.seconds[int(at)].completed += 1
            self.completed_at[journey].append(at)

    def tick(self, now: float) -> None:
        """Called once a second by the run: the waiting-room head count for the second just ended."""
        self.seconds[int(now) - 1].waiting = self.waiting_now

    # Summaries ------------------------------------------------------------------------------------------

    def fairness(self) -> dict[str, Any]:
        """Two orders against the order of arrival, over the people let in from the queue:

        - ``kendall_tau_distance``: the order the room gave them their turn (it moves its serving
          counter along the ticket numbers; in an event, the draw reorders those who came before
          the start, on purpose, and this figure shows it);
        - ``kendall_tau_distance_entry``: the order they actually got in, which adds their own
          timing: a person checks their place every few seconds, so two turns a second apart can
          be taken in either order."""
        admitted = [q for q in self.queued if q.admitted >= 0]
        numbered = [q for q in admitted if q.ticket >= 0]
        return {
            "queued": len(self.queued),
            "admitted_from_queue": len(admitted),
            "gave_up_in_queue": sum(1 for q in self.queued if q.gave_up >= 0),
            "kendall_tau_distance": round(
                kendall_tau_distance([q.arrived for q in numbered], [float(q.ticket) for q in numbered]), 5
            ),
            "kendall_tau_distance_entry": round(
                kendall_tau_distance([q.arrived for q in admitted], [q.admitted for q in admitted]), 5
            ),
        }

    def eta(self) -> dict[str, Any]:
        """The ETA against the wait, for the people who waited on the page (those who left an
        address waited for their email and chose when to follow its link)."""
        pairs = [
            ((q.predicted_low + q.predicted_high) / 2, q.wait, q.predicted_low <= q.wait <= q.predicted_high)
            for q in self.queued
            if q.admitted >= 0 and q.predicted_high >= 0 and q.left_email < 0
        ]
        errors = [eta_error(p, a) for p, a, _ in pairs]
        return {
            "measured": len(errors),
            "median_error": round(statistics.median(errors), 4) if errors else None,
            "p90_error": round(sorted(errors)[int(0.9 * (len(errors) - 1))], 4) if errors else None,
            "within_range": round(sum(1 for *_, inside in pairs if inside) / len(pairs), 4)
            if pairs
            else None,
        }

    def queue_waits(self) -> list[float]:
        return [q.wait for q in self.queued if q.admitted >= 0]

    def email_road(self) -> dict[str, Any]:
        """The people who left an address: how many got the email, got in through its link, and
        how long the email took from the moment the counter reached them."""
        road = [q for q in self.queued if q.left_email >= 0]
        # The counter is read four times a second: a delay shorter than that reads as 0.
        delays = sorted(max(0.0, q.mailed - q.turned) for q in road if q.mailed >= 0 and q.turned >= 0)
        return {
            "left_address": len(road),
            "got_mail": sum(1 for q in road if q.mailed >= 0),
            "in_through_link": sum(1 for q in road if q.via_link),
            "turn_to_mail_seconds": {
                "measured": len(delays),
                "median": round(statistics.median(delays), 2) if delays else None,
                "p90": round(delays[int(0.9 * (len(delays) - 1))], 2) if delays else None,
                "max": round(delays[-1], 2) if delays else None,
            },
        }
