"""Kafka broker factory: idempotent producer, OpenTelemetry and Prometheus middlewares."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry


def create_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
) -> KafkaBroker:
    """A broker whose producer is idempotent with acks=all, and whose messages carry W3C trace context."""
    middlewares: list = [KafkaTelemetryMiddleware(tracer_provider=tracer_provider)]
    if registry is not None:
        middlewares.append(KafkaPrometheusMiddleware(registry=registry, app_name=client_id))
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        middlewares=middlewares,
        logger=logging.getLogger(f"{client_id}.kafka"),
        log_level=logging.DEBUG,
    )
