"""The generator itself, against small servers that misbehave on purpose: latency counts from each
request's intended send time, so a stalled server (or a stalled generator) shows as large latencies,
never as small ones; a busy answer is retried after its Retry-After; chunked answers are read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from haven.surge.journeys import Behaviour
from haven.surge.report import summarise
from haven.surge.run import Outcome, Plan, run
from haven.surge.shapes import constant

Handler = Callable[[str], Awaitable[bytes]]


def ok(body: bytes = b"<p>hello</p>") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A tiny keep-alive HTTP server on 127.0.0.1 answering every request with ``handler(path)``."""

    open_writers: set[asyncio.StreamWriter] = set()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                writer.write(await handler(path))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            open_writers.discard(writer)
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in list(open_writers):
            writer.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # let the handlers see their connections closed


def plan(target: str, rate: float, seconds: float, *, poisson: bool = True) -> Plan:
    return Plan(
        poisson=poisson,
        target=target,
        shape=constant(rate, seconds),
        mix={"reader": 1.0},
        behaviour=Behaviour(think=0.0, timeout=10.0),
        drain=20.0,
    )


async def test_a_stalled_server_shows_as_large_latencies() -> None:
    async def stalled(path: str) -> bytes:
        await asyncio.sleep(1.0)
        return ok()

    async with serving(stalled) as target:
        outcome = await run(plan(target, rate=10, seconds=1))
    summary = summarise(outcome, None)
    served = summary["latency_ms"]["served"]
    assert served["count"] == 3 * summary["arrivals"]["started"]  # three pages each
    assert served["p50"] >= 1000
    assert summary["journeys"]["reader"]["outcomes"] == {"completed": summary["arrivals"]["started"]}


async def test_a_server_that_falls_behind_shows_its_queue_in_the_latency() -> None:
    """One request at a time, 50 ms each, offered 60 requests a second (20 readers × 3 pages):
    three times what it can do. A closed-loop tool would report about 50 ms; the truth is that
    the last visitors wait seconds."""
    turn = asyncio.Lock()

    async def one_at_a_time(path: str) -> bytes:
        async with turn:
            await asyncio.sleep(0.05)
        return ok()

    async with serving(one_at_a_time) as target:
        outcome = await run(plan(target, rate=20, seconds=2))
    served = summarise(outcome, None)["latency_ms"]["served"]
    assert served["p50"] < served["p99"]
    assert served["p99"] > 2000  # 120 requests × 50 ms = 6 s of work offered in 2 s


async def test_a_generator_that_falls_behind_counts_its_delay_and_flags_the_run() -> None:
    async def instant(path: str) -> bytes:
        return ok()

    async def freeze_at(moment: float, seconds: float) -> None:
        await asyncio.sleep(moment)
        time.sleep(seconds)  # noqa: ASYNC251 - on purpose: the event loop cannot keep its schedule

    async with serving(instant) as target:
        freezer = asyncio.create_task(freeze_at(0.3, 0.8))
        outcome: Outcome = await run(plan(target, rate=50, seconds=2))
        await freezer
    summary = summarise(outcome, None)
    assert summary["latency_ms"]["served"]["max"] >= 600  # counted from when they were due
    assert summary["generator"]["late_arrivals"] >= 20
    assert summary["generator"]["flagged"]
    assert any("late" in flag for flag in summary["generator"]["flags"])


async def test_busy_answers_are_retried_after_their_retry_after() -> None:
    calls: dict[str, list[float]] = {}

    async def busy_once(path: str) -> bytes:
        if path == "/metrics":  # the run reads the shield's gauges once a second
            return ok(b"")
        seen = calls.setdefault(path, [])
        seen.append(time.monotonic())
        if len(seen) == 1:
            return b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
        body = b"<p>chunked</p>"
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (
            len(body),
            body,
        )

    async with serving(busy_once) as target:
        outcome = await run(plan(target, rate=1, seconds=1, poisson=False))
    summary = summarise(outcome, None)
    assert summary["journeys"]["reader"]["outcomes"] == {"completed": 1}
    assert len(calls) == 3
    for times in calls.values():
        assert len(times) == 2
        assert times[1] - times[0] >= 0.95
    assert summary["requests"]["statuses"] == {"200": 3, "503": 3}


async def test_the_gauges_of_several_workers_are_read_as_one_server() -> None:
    """The room's figures, one shared room as each worker last read it, are taken at their highest;
    the workers' own figures add up."""
    metrics = (
        b"# HELP haven_shield_queue_length People in line.\n# TYPE haven_shield_queue_length gauge\n"
        b'haven_shield_queue_length{worker="11"} 40.0\nhaven_shield_queue_length{worker="12"} 42.0\n'
        b"# HELP haven_shield_limit Limit.\n# TYPE haven_shield_limit gauge\n"
        b'haven_shield_limit{worker="11"} 8.0\nhaven_shield_limit{worker="12"} 6.0\n'
        b"# HELP haven_shield_admitted_total Passes.\n# TYPE haven_shield_admitted_total counter\n"
        b'haven_shield_admitted_total{worker="11"} 3.0\nhaven_shield_admitted_total{worker="12"} 4.0\n'
    )

    async def two_workers(path: str) -> bytes:
        return ok(metrics) if path == "/metrics" else ok()

    async with serving(two_workers) as target:
        outcome = await run(plan(target, rate=1, seconds=2, poisson=False))
    assert outcome.server
    for row in outcome.server:
        assert (row["queue_length"], row["limit"], row["admitted_total"]) == (42.0, 14.0, 7.0)
