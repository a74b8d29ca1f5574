"""Request metrics in the Prometheus text format: requests by route class and status, a latency
histogram per route class, and requests in flight; and ``Metrics``, the outermost layer of the front,
which counts them.

The hot path only bumps plain integers (a dictionary lookup and an addition); the Prometheus objects are
built when ``/metrics`` is scraped. prometheus-client's own counters take a lock per increment, which
costs more than serving a cached page.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from time import perf_counter
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from haven.web.asgi import ASGIApp, Noted, Receive, Scope, Send, route_of

# Seconds. Cached pages land in the first buckets; the upper ones catch queueing and database work.
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


class _Histogram:
    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the count is their sum, taken at scrape
        self.total = 0.0


class RequestMetrics:
    """Counts kept by one worker process; each worker exposes its own (scrape them all)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.in_flight = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Exporter(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def observe(self, route_class: str, status: int, seconds: float) -> None:
        key = (route_class, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(route_class)
        if histogram is None:
            histogram = self.latency[route_class] = _Histogram()
        histogram.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        histogram.total += seconds

    def render(self) -> bytes:
        return generate_latest(self.registry)


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
