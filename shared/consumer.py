"""At-least-once consumers: typed dispatch, idempotent inbox, retries, and a dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from pydantic import ValidationError

from shared import inbox
from shared.asyncapi import document_subscriber
from shared.clock import Clock
from shared.events import EVENT_TYPES, EnvelopeHeader, Topics, parse_event
from shared.events.envelope import Envelope
from shared.failpoints import Failpoints
from shared.metrics import OperationsMetrics, PlumbingMetrics
from shared.oversized_dead_letters import publish_dead_letter

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Any], Awaitable[None]]

# Errors that say "try again later", not "this message is wrong": never dead-letter on them.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


class EventRejected(Exception):
    """A well-formed event this service cannot apply; it goes to the dead-letter topic with the reason."""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for failures while applying one message."""

    transient_attempts: int = 8
    unexpected_attempts: int = 3
    first_delay: float = 0.1
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff delay before retry number `attempt` (1-based)."""
        return min(self.max_delay, self.first_delay * 2 ** (attempt - 1))


class PoolHolder:
    """Late-bound pool: consumers are registered before the service's lifespan opens the pool."""

    pool: asyncpg.Pool | None = None

    def get(self) -> asyncpg.Pool:
        """The open pool; fails loudly if the service has not started."""
        if self.pool is None:
            raise RuntimeError("database pool is not open yet")
        return self.pool


@dataclass
class EventConsumer:
    """Applies the events of some topics for one consumer group, each in one transaction."""

    broker: KafkaBroker
    pools: PoolHolder
    group_id: str
    handlers: Mapping[str, Handler]
    clock: Clock
    failpoints: Failpoints
    metrics: PlumbingMetrics | None = None
    operations: OperationsMetrics | None = None
    retry: RetryPolicy = RetryPolicy()

    async def on_message(self, message: KafkaMessage) -> None:
        """Entry point for one Kafka record; raising makes FastStream rewind to it (nack)."""
        record = message.raw_message
        body: bytes = message.body
        try:
            header = EnvelopeHeader.model_validate_json(body)
        except ValidationError as exc:
            await self.dead_letter(message, f"invalid envelope: {_summary(exc)}")
            return
        handler = self.handlers.get(header.type)
        if handler is None:
            # Another consumer's event, or a newer type this version does not know: not an error.
            return
        try:
            event = parse_event(body)
        except ValidationError as exc:
            await self.dead_letter(message, f"invalid {header.type}: {_summary(exc)}")
            return
        trace.get_current_span().set_attributes(
            {"cloudevents.event_id": str(event.id), "cloudevents.event_type": event.type}
        )
        await self._apply_with_retries(message, handler, event)
        log.debug("applied %s %s from %s[%s]@%s", event.type, event.id, record.topic, record.partition, record.offset)

    async def _apply_with_retries(self, message: KafkaMessage, handler: Handler, event: Envelope[Any]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                if await self.apply(handler, event) and self.operations is not None:
                    # Envelope time to commit, on the wall clock (the service clock may be a test's fixed one).
                    latency = time.time() - event.time.timestamp()
                    self.operations.events_applied.labels(self.group_id, event.type).observe(max(0.0, latency))
                return
            except EventRejected as exc:
                await self.dead_letter(message, f"rejected {event.type}: {exc}")
                return
            except TRANSIENT_ERRORS as exc:
                if attempt >= self.retry.transient_attempts:
                    # Give the message back to Kafka: it is redelivered, never lost.
                    raise
                log.warning("transient failure on %s (attempt %d): %r", event.id, attempt, exc)
            except Exception as exc:
                if attempt >= self.retry.unexpected_attempts:
                    log.exception("giving up on %s after %d attempts", event.id, attempt)
                    await self.dead_letter(message, f"handler failed on {event.type}: {exc!r}", detail=traceback.format_exc())
                    return
                log.warning("failure on %s (attempt %d): %r", event.id, attempt, exc)
            await asyncio.sleep(self.retry.delay(attempt))

    async def apply(self, handler: Handler, event: Envelope[Any]) -> bool:
        """Apply `event` once: inbox claim and state change in one transaction. False if a duplicate."""
        async with self.pools.get().acquire() as conn:
            async with conn.transaction():
                if not await inbox.claim(conn, self.group_id, event):
                    log.info("event %s already applied by %s: skipped", event.id, self.group_id)
                    return False
                await handler(conn, event)
            self.failpoints.hit("after_commit", event.type)
        return True

    async def dead_letter(self, message: KafkaMessage, reason: str, *, detail: str = "") -> None:
        """Publish the original bytes to the dead-letter topic with the reason and coordinates."""
        record = message.raw_message
        span_context = trace.get_current_span().get_span_context()
        headers = {
            **{k: v for k, v in (message.headers or {}).items() if isinstance(v, str)},
            "dlq-reason": reason[:2000],
            "dlq-detail": detail[-4000:],
            "dlq-consumer-group": self.group_id,
            "dlq-original-topic": record.topic,
            "dlq-original-partition": str(record.partition),
            "dlq-original-offset": str(record.offset),
            "dlq-trace-id": format(span_context.trace_id, "032x"),
            "dlq-failed-at": self.clock.now().isoformat(),
        }
        log.error("dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)
        # Cut to fit when the original record with these headers is too large for the topic (never a loop).
        await publish_dead_letter(self.broker, message.body, key=record.key, headers=headers)
        if self.metrics is not None:
            self.metrics.dead_letters.labels(self.group_id, record.topic).inc()


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:10]
    )


def register_consumer(
    broker: KafkaBroker,
    *,
    pools: PoolHolder,
    group_id: str,
    topics: tuple[str, ...],
    handlers: Mapping[type[Envelope[Any]], Handler],
    clock: Clock,
    failpoints: Failpoints,
    metrics: PlumbingMetrics | None = None,
    operations: OperationsMetrics | None = None,
    description: str | None = None,
) -> EventConsumer:
    """Subscribe `handlers` (event class → handler) to `topics` under `group_id`, at-least-once."""
    unknown = {cls.__name__ for cls in handlers if EVENT_TYPES.get(cls.event_type()) is not cls}
    if unknown:
        raise ValueError(f"handlers for event classes outside the catalogue: {sorted(unknown)}")
    by_type = {cls.event_type(): handler for cls, handler in handlers.items()}
    consumer = EventConsumer(broker, pools, group_id, by_type, clock, failpoints, metrics, operations)
    description = description or (
        f"Consumer group `{group_id}`: each event applied at least once, in one transaction with its inbox claim; "
        f"an event it refuses goes to `{Topics.DEAD_LETTER}` with the reason."
    )
    subscriber = broker.subscriber(
        *topics,
        group_id=group_id,
        # Commit the offset only after the handler's transaction committed (never ack-first).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        # The AsyncAPI channels' names: `<group>:<topic>` (FastStream suffixes each topic when there are several).
        title=group_id if len(topics) > 1 else f"{group_id}:{topics[0]}",
        description=description,
    )
    subscriber(consumer.on_message)
    # The handler takes the raw record; the AsyncAPI document shows the events it applies.
    document_subscriber(subscriber, handlers)
    return consumer
