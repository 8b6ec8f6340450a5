"""Prometheus metrics of the plumbing: what the outbox relay published and what went to dead letters."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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


# --- Operations: the figures ops dashboards and alerts read (deploy/metrics/) -------------------------
# Refreshed by a background task of each service (shared/metrics_refresh.py), never at scrape time:
# a scrape costs no Kafka or Postgres round trip. Event flow figures are counted as events are applied.

# Buckets of the end-to-end latency: a fact's envelope time to the moment a consumer applied it.
FLOW_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
POOL_WAIT_BUCKETS = (0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
HTTP_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# One phase of a consumer's transaction is most often one database round trip: a fraction of a millisecond on an idle
# machine, milliseconds when every group wakes on the same record.
PHASE_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
FETCH_DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)
# The phases of a consumer's transaction (`shared.consumer`), in order.
TRANSACTION_PHASES = ("begin", "claim", "handlers", "outbox", "commit")


@dataclass(frozen=True)
class OperationsMetrics:
    """Consumer lag, topic sizes, the outbox's oldest row, Postgres figures, event flow (and where a consumer's time
    goes), HTTP requests, waits for a connection."""

    consumer_lag: Gauge
    topic_end_offset: Gauge
    dead_letter_topic_size: Gauge
    outbox_oldest_age: Gauge
    postgres_connections: Gauge
    postgres_database_size: Gauge
    events_applied: Histogram
    transaction_phases: Histogram
    fetch_delay: Histogram
    http_requests: Histogram
    pool_wait: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> OperationsMetrics:
        """Register the metrics in `registry`."""
        return cls(
            consumer_lag=Gauge(
                "microcredit_consumer_lag",
                "Records of a partition not yet committed by a consumer group (partition end offset minus committed offset).",
                ["group", "topic", "partition"], registry=registry,
            ),
            topic_end_offset=Gauge(
                "microcredit_kafka_topic_end_offset",
                "End offset of each partition of the platform's topics, as the broker reports it.",
                ["topic", "partition"], registry=registry,
            ),
            dead_letter_topic_size=Gauge(
                "microcredit_dead_letter_topic_size",
                "Records ever written to the dead-letter topic (sum of its partitions' end offsets).",
                registry=registry,
            ),
            outbox_oldest_age=Gauge(
                "microcredit_outbox_oldest_age_seconds",
                "Age of the oldest outbox row not yet published (0 when the outbox is empty).",
                registry=registry,
            ),
            postgres_connections=Gauge(
                "microcredit_postgres_connections",
                "Connections to the platform's database by state (pg_stat_activity; one service reports it).",
                ["state"], registry=registry,
            ),
            postgres_database_size=Gauge(
                "microcredit_postgres_database_size_bytes",
                "Size of the platform's database on disk (pg_database_size; one service reports it).",
                registry=registry,
            ),
            events_applied=Histogram(
                "microcredit_event_latency_seconds",
                "From an event's envelope time to the commit of its consumer's transaction, per group and type.",
                ["group", "type"], buckets=FLOW_LATENCY_BUCKETS, registry=registry,
            ),
            transaction_phases=Histogram(
                "microcredit_consumer_transaction_phase_seconds",
                "Where a consumer's transaction spent its time, per group and phase: begin (BEGIN), claim (the inbox"
                " claim), handlers (opening personal fields and the handlers' statements), outbox (the outbox rows and"
                " any parking), commit (COMMIT). Committed transactions only.",
                ["group", "phase"], buckets=PHASE_BUCKETS, registry=registry,
            ),
            fetch_delay=Histogram(
                "microcredit_consumer_fetch_delay_seconds",
                "From a record's Kafka timestamp (its producer's CreateTime) to the moment its consumer group started"
                " applying the fetch that brought it, per group: the broker's and the client's share of an event's way.",
                ["group"], buckets=FETCH_DELAY_BUCKETS, registry=registry,
            ),
            http_requests=Histogram(
                "microcredit_http_request_duration_seconds",
                "HTTP requests served, per route template, method and status code.",
                ["route", "method", "status"], buckets=HTTP_LATENCY_BUCKETS, registry=registry,
            ),
            pool_wait=Histogram(
                "microcredit_postgres_pool_wait_seconds",
                "How long a request, an event batch or a timer waited for one of the service's pooled connections"
                " (0 when one was free).",
                buckets=POOL_WAIT_BUCKETS, registry=registry,
            ),
        )
