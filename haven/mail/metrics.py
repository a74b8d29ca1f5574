"""The outbox's figures in ``/metrics``: what this process's sweeps did with the messages they took.
Read at scrape time from plain counters (``haven.mail.outbox.DELIVERIES``)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from haven.mail.outbox import DELIVERIES, DeliveryCounts


class MailExporter(Collector):
    def __init__(self, counts: DeliveryCounts = DELIVERIES) -> None:
        self.counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        counts = self.counts
        yield CounterMetricFamily("haven_mail_sent", "Emails the mailer delivered.", value=counts.sent)
        yield CounterMetricFamily(
            "haven_mail_retried",
            "Delivery attempts that failed for now (relay down or slow, a 4xx reply): tried again later.",
            value=counts.retried,
        )
        yield CounterMetricFamily(
            "haven_mail_refused",
            "Emails the relay refused for good (a 5xx reply to the recipient or the message): not sent.",
            value=counts.refused,
        )
        yield CounterMetricFamily(
            "haven_mail_abandoned",
            "Emails given up after every attempt failed for now: not sent.",
            value=counts.abandoned,
        )
