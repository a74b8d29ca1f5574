"""The shield's figures in ``/metrics``: the room (shared, as this worker last read it) and this
worker's admission control. Read at scrape time from plain attributes; nothing on the hot path."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from haven.shield.core import Shield


class ShieldExporter(Collector):
    def __init__(self, shield: Shield) -> None:
        self.shield = shield

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        shield = self.shield
        room, limiter, state = shield.room, shield.limiter, shield.room.state

        def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"haven_shield_{name}", text, value=value)

        def counter(name: str, text: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"haven_shield_{name}", text, value=value)

        yield gauge(
            "queue_length",
            "People in line: tickets issued and not yet reached (those who left count until reached).",
            state.waiting,
        )
        yield gauge("serving_counter", "Tickets numbered up to this one may enter.", state.serving)
        yield gauge("tickets_issued", "Highest ticket number issued.", state.issued)
        yield gauge("active_passes", "Passes not yet expired (visitors let in).", state.passes)
        yield gauge(
            "queueing",
            "1 when new visitors are queued rather than let in at once.",
            0 if room.admits_directly() else 1,
        )
        yield gauge(
            "admission_rate", "People per second this worker lets in from the queue (controller).", room.rate
        )
        yield gauge("line_speed", "Tickets per second the serving counter passes (all workers).", room.speed)
        yield gauge(
            "no_show_rate",
            "Share of reached places never claimed (the outflow makes up for it).",
            room.no_show,
        )
        yield counter("places_claimed", "Places exchanged for a pass, all workers.", state.claimed)
        yield counter(
            "places_lapsed",
            "Places passed and never claimed within the room's history, all workers.",
            state.lapsed,
        )
        yield gauge(
            "eta_error_median",
            "Median of |actual - predicted| / actual wait, tickets claimed here (-1: none).",
            room.eta_error(),
        )
        yield gauge(
            "store_degraded",
            "1 when the shared store is unreachable and this worker runs a room of its own.",
            1 if room.degraded else 0,
        )
        yield counter("store_fallbacks", "Times this worker fell back to a room of its own.", room.fallbacks)
        yield counter("admitted", "Passes granted by this worker.", room.admitted)
        yield counter("joins", "Tickets issued by this worker.", room.joins)
        yield gauge("limit", "Current adaptive concurrency limit (cost units).", limiter.limit)
        yield gauge(
            "in_flight", "Requests past the limiter and not finished (cost units).", limiter.in_flight
        )
        yield gauge("limiter_queue", "Requests waiting in the limiter's short queue.", limiter.queued)
        yield gauge("hash_lane_busy", "Password hashes running in this worker's lane.", shield.lane.busy)
        yield gauge(
            "hash_lane_waiting", "Password hashes waiting for a slot in the lane.", shield.lane.waiting
        )
        yield gauge(
            "pressure",
            "Share of the last 2 s this worker was at capacity (the room's signal).",
            limiter.pressure(),
        )
        yield counter("work_solved", "Proofs of work accepted to join the queue.", shield.work.solved)
        yield counter("work_refused", "Proofs of work missing, wrong, stale or reused.", shield.work.refused)
        sheds = CounterMetricFamily("haven_shield_sheds", "Requests shed, by reason.", labels=["reason"])
        for reason, count in sorted(shield.shed_counts().items()):
            sheds.add_metric([reason], count)
        yield sheds
        refused = CounterMetricFamily(
            "haven_shield_refused_cookies",
            "Tickets and passes refused, by cookie and reason.",
            labels=["cookie", "reason"],
        )
        for (name, reason), count in sorted(shield.refused.items()):
            refused.add_metric([name, reason], count)
        yield refused
