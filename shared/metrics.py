"""Prometheus metrics of the plumbing: what the outbox relay published and what went to dead letters."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class PlumbingMetrics:
    """Counters and gauges every service exposes at /metrics."""

    outbox_published: Counter
    outbox_backlog: Gauge
    dead_letters: Counter
    # Dead letters kept for ops (shared/deadletters.py).
    dead_letters_pending: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PlumbingMetrics:
        """Register the metrics in `registry`."""
        return cls(
            outbox_published=Counter(
                "microcredit_outbox_published", "Events the outbox relay published to Kafka.", ["topic"], registry=registry
            ),
            outbox_backlog=Gauge(
                "microcredit_outbox_backlog", "Events written but not yet published (at the relay's last pass).", registry=registry
            ),
            dead_letters=Counter(
                "microcredit_dead_letters", "Messages sent to the dead-letter topic.", ["group", "topic"], registry=registry
            ),
            # Dead letters kept for ops (shared/deadletters.py).
            dead_letters_pending=Gauge(
                "microcredit_dead_letters_pending",
                "Dead letters of the group waiting for ops to replay or discard them.",
                ["group"],
                registry=registry,
            ),
        )
