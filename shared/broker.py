"""Kafka broker factory: idempotent producer and Prometheus middleware.

Tracing is not a broker middleware: the outbox relay opens one producer span per topic and trace in a batch
(shared/outbox.py) and consumers one span per event processed (shared/consumer.py), each continuing the W3C
trace context the record carries. FastStream's middleware would add a span per batch, detached from both.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from prometheus_client import CollectorRegistry

from shared.kafka_auth import KafkaLogin


async def as_bytes(message: StreamMessage[Any]) -> bytes:
    """The record's value as it came: the handlers parse it themselves.

    A coroutine, not a plain function: FastStream runs a plain decoder in a worker thread, one thread hop per fetch.

    FastStream would parse a body whose `content-type` says JSON (or text) before the handler runs, and a
    body that does not parse would then fail outside it, be redelivered and stop its partition for ever:
    a partner's malformed file, or a dead letter whose payload was cut (`shared/oversized_dead_letters.py`).
    """
    return message.body


def create_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    registry: CollectorRegistry | None = None,
    login: KafkaLogin | None = None,
    metadata_max_age_ms: int = 300_000,
) -> KafkaBroker:
    """A broker whose producer is idempotent with acks=all and sends at once (the relay hands it whole batches).

    With `login`, it authenticates as that principal (SASL/SCRAM-SHA-512): the broker lets it write and read
    only what deploy/kafka_security/ grants it.
    """
    middlewares: list = []
    if registry is not None:
        middlewares.append(KafkaPrometheusMiddleware(registry=registry, app_name=client_id))
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=login.faststream() if login is not None else None,
        # Topics are provisioned with the broker (deploy/local/topics.py, compose's kafka-init): a service may not create any.
        allow_auto_create_topics=False,
        enable_idempotence=True,
        acks="all",
        linger_ms=0,
        # Also how soon a pattern subscriber sees a topic created after it started (aiokafka's default: 5 minutes).
        metadata_max_age_ms=metadata_max_age_ms,
        middlewares=middlewares,
        decoder=as_bytes,
        logger=logging.getLogger(f"{client_id}.kafka"),
        log_level=logging.DEBUG,
    )
