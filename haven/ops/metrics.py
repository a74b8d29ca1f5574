"""Request metrics in the Prometheus text format: requests by route class and status, a latency
histogram per route class, and requests in flight; and ``Metrics``, the outermost layer of the front,
which counts them.

The hot path only bumps plain integers (a dictionary lookup and an addition); the Prometheus objects are
built when ``/metrics`` is scraped. prometheus-client's own counters take a lock per increment, which
costs more than serving a cached page. Every sample carries the ``worker`` it comes from; with several
workers, each publishes its figures once a second (``haven/ops/peers.py``) and a scrape shows them all.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from time import perf_counter
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from haven.ops.peers import PUBLISH_EVERY, WorkerFiles, merge, split
from haven.web.asgi import ASGIApp, Noted, Receive, Scope, Send, route_of

# Seconds. Cached pages land in the first buckets; the upper ones catch queueing and database work.
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
WORKER_LABEL: Final = "worker"

log = logging.getLogger(__name__)


class _Histogram:
    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the count is their sum, taken at scrape
        self.total = 0.0


class RequestMetrics:
    """Counts kept by one worker process. With ``shared`` (a folder the server's workers share), it
    publishes them there while it runs, and ``render`` adds the other workers' to its own."""

    def __init__(self, shared: Path | None = None) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.in_flight = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Exporter(self))
        self.process = _ProcessFigures()
        self.registry.register(self.process)
        PlatformCollector(registry=self.registry)
        self.shared = shared
        self.files: WorkerFiles | None = None  # while publishing
        self._publisher: asyncio.Task[None] | None = None

    def observe(self, route_class: str, status: int, seconds: float) -> None:
        key = (route_class, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(route_class)
        if histogram is None:
            histogram = self.latency[route_class] = _Histogram()
        histogram.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        histogram.total += seconds

    def exposition(self) -> str:
        """This worker's figures, each sample labelled with the worker (its process id)."""
        return generate_latest(_Labelled(self.registry, str(os.getpid()))).decode()

    def render(self) -> bytes:
        """What ``/metrics`` answers: this worker's figures, live, and those the others published."""
        own = self.exposition()
        if self.files is None:
            return own.encode()
        families = split(own)
        if families is None:  # not laid out as expected: this worker's figures alone, still valid
            return own.encode()
        return merge([families, *self.files.others()]).encode()

    def start(self) -> None:
        """Publish this worker's figures for the others, from now until ``stop``."""
        if self.shared is None or self._publisher is not None:
            return
        self.files = WorkerFiles.of_this_process(self.shared)
        self._publisher = asyncio.get_running_loop().create_task(self._publish(self.files))

    async def stop(self) -> None:
        task, files = self._publisher, self.files
        self._publisher = self.files = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if files is not None:
            files.remove()
        self.process.taken = None

    async def _publish(self, files: WorkerFiles) -> None:
        # Fail open: a folder that cannot be written costs the scrape the other workers' figures,
        # never a request; the warning says so once, not once a second.
        failing = False
        while True:
            self.process.taken = await asyncio.to_thread(self.process.read)
            try:
                # On the loop: a file of some tens of kilobytes costs less to write than to render,
                # and a write left running in a thread could land after ``stop`` removed the file.
                files.write(self.exposition())
            except OSError as error:
                if not failing:
                    log.warning("cannot publish this worker's metrics in %s: %s", files.folder, error)
                failing = True
            else:
                failing = False
            await asyncio.sleep(PUBLISH_EVERY)


class Metrics:
    """The outermost layer: every request is in flight from here until its answer is done, then
    counted by status and timed, under the route class the layer that answered named (``app`` when
    none did: the application behind the front). A request cut short by an exception that reaches
    this far is not counted (the application's own failures are answered below, by the problem
    page). Granian's fast path for finished pages counts its answers into the same figures."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        metrics = self.metrics
        noted = Noted(send)
        metrics.in_flight += 1
        try:
            await self.app(scope, receive, noted)
        finally:
            metrics.in_flight -= 1
        metrics.observe(route_of(scope), noted.status, perf_counter() - started)


class _Exporter(Collector):
    def __init__(self, metrics: RequestMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        requests = CounterMetricFamily(
            "haven_http_requests",
            "HTTP requests answered, by route class and status code.",
            labels=["route", "status"],
        )
        for (route_class, status), count in sorted(self.metrics.requests.items()):
            requests.add_metric([route_class, str(status)], count)
        yield requests

        latency = HistogramMetricFamily(
            "haven_http_request_duration_seconds",
            "Time from receiving a request to sending the last byte, by route class.",
            labels=["route"],
        )
        for route_class, histogram in sorted(self.metrics.latency.items()):
            cumulative = 0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), histogram.buckets, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric([route_class], buckets, histogram.total)
        yield latency

        yield GaugeMetricFamily(
            "haven_http_requests_in_flight",
            "Requests received and not yet answered.",
            value=self.metrics.in_flight,
        )


class _ProcessFigures(Collector):
    """prometheus-client's process figures (memory, CPU, open files), as the publisher last read
    them, in a thread: counting the open files of a worker that holds thousands of connections
    takes milliseconds. Read live when nothing publishes."""

    def __init__(self) -> None:
        self.collector = ProcessCollector(registry=None)
        self.taken: list[Metric] | None = None

    def read(self) -> list[Metric]:
        return list(self.collector.collect())

    def collect(self) -> Iterable[Metric]:
        taken = self.taken
        return self.collector.collect() if taken is None else taken


class _Labelled(Collector):
    """The registry's families with the worker's label added to every sample."""

    def __init__(self, registry: CollectorRegistry, worker: str) -> None:
        self.registry = registry
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        worker = self.worker
        for metric in self.registry.collect():
            labelled = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            labelled.samples = [
                sample._replace(labels={**sample.labels, WORKER_LABEL: worker}) for sample in metric.samples
            ]
            yield labelled
