"""A surge against the cluster with faults on a schedule, and the figures that say whether Haven
kept its promises through them (``python -m bench.cluster``; see ``__main__.py``).

While ``haven surge`` plays the crowd against the load balancer, the harness:

- kills one app host's Haven (``kill -9``) and restarts it ``back_after`` seconds later; its
  recovery is the time until HAProxy stops sending to it;
- kills the Redis primary (``kill -9``); its recovery is the time until a Sentinel has promoted the
  replica and every app host runs on the shared room again; the old primary comes back as a replica;
- restarts PostgreSQL at once (immediate mode); its recovery is the time until a query through
  PgBouncer answers again.

Every quarter second it reads the room's public state from each app host directly (to see whether
the serving number ever moved back) and through the load balancer. Afterwards: every acknowledged
submission is looked up in the database (lost, duplicated), timeouts are set against the recovery
windows, and the order people got their turn is compared with the order they came (Kendall tau).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx

from bench.cluster.cluster import Cluster, cpu_seconds
from haven.surge.journeys import Behaviour
from haven.surge.record import kendall_tau_distance
from haven.surge.run import Outcome, Plan, run
from haven.surge.shapes import Shape

FaultKind = Literal["app", "redis", "postgres"]
STATE_PATH = "/api/v1/waiting-room/state"
POLL_SECONDS = 0.25
RECOVERY_LIMIT = 60.0  # a fault not recovered from within this is reported as such


@dataclass(frozen=True)
class Scheduled:
    kind: FaultKind
    at: float  # seconds into the surge
    back_after: float = 10.0  # app: restarted after; redis: the old primary back, as a replica


@dataclass
class Fault:
    kind: str
    at_seconds: float
    recovery_seconds: float
    target_seconds: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return 0 <= self.recovery_seconds <= self.target_seconds


@dataclass
class Reading:
    t: float  # run clock
    source: str  # an app host's name, or "lb"
    serving: int
    issued: int


class Watch:
    """The room's public state, read every ``POLL_SECONDS`` from each app host and through the LB."""

    def __init__(self, cluster: Cluster, started: float) -> None:
        self.cluster = cluster
        self.started = started
        self.readings: list[Reading] = []

    async def run(self) -> None:
        sources = [(host.name, f"http://{host.address}:8000") for host in self.cluster.apps]
        sources.append(("lb", self.cluster.target))
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                await asyncio.gather(*(self._read(client, name, base) for name, base in sources))
                await asyncio.sleep(POLL_SECONDS)

    async def _read(self, client: httpx.AsyncClient, name: str, base: str) -> None:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            answer = await client.get(base + STATE_PATH)
            if answer.status_code == 200:
                state = answer.json()
                t = time.time() - self.started
                self.readings.append(Reading(t, name, int(state["serving"]), int(state["issued"])))

    def went_back(self) -> dict[str, dict[str, int]]:
        """Per source: readings, how many times serving was lower than that source's last, and the
        largest such step back."""
        out: dict[str, dict[str, int]] = {}
        last: dict[str, int] = {}
        for reading in self.readings:
            entry = out.setdefault(reading.source, {"readings": 0, "went_back": 0, "largest_step_back": 0})
            entry["readings"] += 1
            before = last.get(reading.source, 0)
            if reading.serving < before:
                entry["went_back"] += 1
                entry["largest_step_back"] = max(entry["largest_step_back"], before - reading.serving)
            last[reading.source] = max(before, reading.serving)
        return out


async def _until(check: Callable[[], bool], limit: float = RECOVERY_LIMIT, every: float = 0.05) -> float:
    """Seconds until ``check()`` (run in a thread) is true; -1 when it never was within ``limit``."""
    start = time.time()
    while time.time() - start < limit:
        if await asyncio.to_thread(check):
            return time.time() - start
        await asyncio.sleep(every)
    return -1.0


class Faults:
    def __init__(self, cluster: Cluster, schedule: list[Scheduled], started: float) -> None:
        self.cluster = cluster
        self.schedule = sorted(schedule, key=lambda s: s.at)
        self.started = started
        self.done: list[Fault] = []

    async def run(self) -> None:
        for planned in self.schedule:
            await asyncio.sleep(max(0.0, self.started + planned.at - time.time()))
            action = {"app": self._app, "redis": self._redis, "postgres": self._postgres}[planned.kind]
            self.done.append(await action(planned))

    async def _app(self, planned: Scheduled) -> Fault:
        cluster = self.cluster
        host = cluster.apps[0]
        at = time.time() - self.started
        killed = time.time()
        await asyncio.to_thread(cluster.kill_app, host)
        detected = await _until(lambda: cluster.server_states().get(host.name, "UP") != "UP")
        target = cluster.layout.check_interval_ms / 1000 + 2
        await asyncio.sleep(max(0.0, killed + planned.back_after - time.time()))
        restarted = time.time()
        await asyncio.to_thread(cluster.start_app, host)
        await asyncio.to_thread(cluster.pin)
        rejoined = await _until(lambda: cluster.server_states().get(host.name) == "UP")
        detail = {
            "host": host.name,
            "restarted_after_seconds": round(restarted - killed, 2),
            # From the restart command to HAProxy sending to it again (start-up included).
            "back_in_rotation_seconds": round(time.time() - restarted, 2) if rejoined >= 0 else -1,
        }
        return Fault("app", round(at, 2), round(detected, 2), target, detail)

    async def _redis(self, planned: Scheduled) -> Fault:
        cluster = self.cluster
        old = await asyncio.to_thread(cluster.primary)
        victim = cluster.redis_host(old[0])
        at = time.time() - self.started
        killed = time.time()
        await asyncio.to_thread(cluster.kill_redis, victim)
        promoted = await _until(lambda: _answers(cluster.primary) not in (None, old), every=0.1)

        def all_shared() -> bool:
            return all(cluster.store_degraded(host) is False for host in cluster.apps if _up(cluster, host))

        recovered = await _until(all_shared, every=0.1) if promoted >= 0 else -1.0
        recovery = time.time() - killed if recovered >= 0 else -1.0
        new = await asyncio.to_thread(cluster.primary)
        await asyncio.sleep(max(0.0, killed + planned.back_after - time.time()))
        await asyncio.to_thread(cluster.restart_redis_as_replica, victim, new)
        target = cluster.layout.down_after_ms / 1000 + 5
        detail = {
            "killed": f"{old[0]}:{old[1]}",
            "promoted": f"{new[0]}:{new[1]}",
            "promoted_after_seconds": round(promoted, 2),
        }
        return Fault("redis", round(at, 2), round(recovery, 2), target, detail)

    async def _postgres(self, planned: Scheduled) -> Fault:
        cluster = self.cluster
        at = time.time() - self.started
        started = time.time()
        await asyncio.to_thread(cluster.restart_postgres)
        restarted = time.time() - started

        answered = await _until(lambda: asyncio.run(_query(cluster.pooled_url)), every=0.1)
        recovery = time.time() - started if answered >= 0 else -1.0
        detail = {"restart_command_seconds": round(restarted, 2)}
        return Fault("postgres", round(at, 2), round(recovery, 2), 10.0, detail)


def _answers(call: Callable[[], tuple[str, int]]) -> tuple[str, int] | None:
    try:
        return call()
    except Exception:
        return None


def _up(cluster: Cluster, host: Any) -> bool:
    haven = cluster.app_procs.get(host.name)
    return haven is not None and haven.proc.alive()


async def _query(url: str) -> bool:
    try:
        connection = await asyncio.wait_for(asyncpg.connect(url, statement_cache_size=0), 1.0)
    except Exception:
        return False
    try:
        return bool(await asyncio.wait_for(connection.fetchval("SELECT 1"), 1.0) == 1)
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


# The surge with its faults ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Crowd:
    shape: Shape
    mix: dict[str, float]
    think: float = 3.0
    timeout: float = 10.0  # a page slower than this is a timeout
    drain: float = 90.0
    seed: int = 2016


def plan(cluster: Cluster, crowd: Crowd, run_id: str) -> Plan:
    return Plan(
        target=cluster.target,
        shape=crowd.shape,
        mix=crowd.mix,
        behaviour=Behaviour(think=crowd.think, timeout=crowd.timeout),
        seed=crowd.seed,
        mail_dir=cluster.mail_dir,
        drain=crowd.drain,
        forwarded=True,
        run_id=run_id,
    )


@dataclass
class Surged:
    outcome: Outcome
    faults: list[Fault]
    watch: Watch
    cpu_seconds: float


async def surge(cluster: Cluster, crowd: Crowd, schedule: list[Scheduled], run_id: str) -> Surged:
    """The surge, with the faults and the watch running beside it on the same clock."""
    started = time.time()
    watch, faults = Watch(cluster, started), Faults(cluster, schedule, started)
    servers = list(cluster.network.hosts.values())
    cpu_before = cpu_seconds(servers)
    helpers = [asyncio.create_task(watch.run()), asyncio.create_task(faults.run())]
    try:
        outcome = await run(plan(cluster, crowd, run_id))
        if not helpers[1].done():
            await asyncio.wait_for(helpers[1], RECOVERY_LIMIT * 2)
    finally:
        for task in helpers:
            task.cancel()
        for task in helpers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    # The surge's clock starts a moment after ours: shift the faults onto it.
    shift = outcome.started_at - started
    for reading in watch.readings:
        reading.t -= shift
    for fault in faults.done:
        fault.at_seconds = round(fault.at_seconds - shift, 2)
    return Surged(outcome, faults.done, watch, cpu_seconds(servers) - cpu_before)


def outside_windows(times: list[tuple[float, float]], faults: list[Fault], slack: float) -> int:
    """Intervals (run clock) that overlap no fault's window ``[at, at + recovery + slack]``; a fault
    that never recovered has no window."""
    windows = [
        (f.at_seconds, f.at_seconds + f.recovery_seconds + slack) for f in faults if f.recovery_seconds >= 0
    ]
    return sum(
        1 for start, end in times if not any(start <= w_end and end >= w_start for w_start, w_end in windows)
    )


def order_near(records: list[list[float]], start: float, end: float) -> float:
    """Kendall tau distance between arrival order and ticket order, for people who queued with
    ``start <= arrived <= end`` and were let in."""
    chosen = [r for r in records if start <= r[0] <= end and r[3] >= 0 and r[2] >= 0]
    return round(kendall_tau_distance([r[0] for r in chosen], [float(r[2]) for r in chosen]), 5)


def figures(surged: Surged, summary: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The harness's top-level figures, from the surge's summary and what the harness saw."""
    rec = surged.outcome.recorder
    durability = summary.get("durability") or {}
    checks = surged.watch.went_back()
    hosts_back = any(entry["went_back"] for name, entry in checks.items() if name != "lb")
    queue = summary["queue"]
    redis = next((f for f in surged.faults if f.kind == "redis"), None)
    around = (
        order_near(
            summary["queue_records"], redis.at_seconds - 10, redis.at_seconds + redis.recovery_seconds + 10
        )
        if redis is not None and redis.recovery_seconds >= 0
        else None
    )
    journeys = summary["goodput"]["journeys_completed"]
    waiting = {int(row["t"]): int(row["waiting"]) for row in summary["series"]}
    for fault in surged.faults:  # visitors on the waiting page in the second the fault struck
        fault.detail["in_line_when_it_struck"] = waiting.get(int(fault.at_seconds), 0)
    return {
        "faults": [{**asdict(f), "met": f.met} for f in surged.faults],
        "acknowledged": durability.get("confirmed", 0),
        "stored_once": durability.get("stored_once", 0),
        "lost": len(durability.get("missing", [])),
        "duplicated": len(durability.get("duplicated", [])) + len(durability.get("confirmed_twice", [])),
        "timeouts": rec.timeouts,
        # A request counts against a window when its life (sent, given up) touched it.
        "timeouts_outside_recovery": outside_windows(rec.timed_out, surged.faults, 0.0),
        "connection_errors": rec.errors,
        "connection_errors_outside_recovery": outside_windows(
            [(t, t) for t in rec.failed], surged.faults, 0.0
        ),
        "kendall_tau": queue["kendall_tau_distance"],
        "kendall_tau_entry": queue["kendall_tau_distance_entry"],
        "kendall_tau_around_redis_failover": around,
        "serving_went_back": hosts_back,
        "serving_through_lb_went_back": bool(checks.get("lb", {}).get("went_back")),
        "serving_checks": checks,
        "journeys_completed": journeys,
        "goodput_journeys_per_second": summary["goodput"]["journeys_per_second"],
        "server_cpu_seconds": round(surged.cpu_seconds, 2),
        "server_cpu_seconds_per_journey": round(surged.cpu_seconds / journeys, 4) if journeys else None,
        "request_timeout_seconds": timeout,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
