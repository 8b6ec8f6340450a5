"""What the event consumers (`shared.consumer`) work with: their settings, the records they fetched, the events
parsed from them, and the errors a handler raises to say an event is refused or comes too early."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord

from shared.events.envelope import Envelope

# What a subscriber registered with `decoder=undecoded` is handed: FastStream's message itself
# (`faststream.kafka.message.KafkaMessage`; for a batch subscriber, the fetch, its `raw_message` the records), not
# decoded. Typed Any because FastStream injects its message class only through `Context("message")`, and
# fast_depends resolves a `Context` on a worker thread: a thread hop for every fetch.
Fetch = Any


async def undecoded(message: Any) -> Any:
    """A FastStream decoder that hands the handler the message itself, its records as aiokafka fetched them (the
    consumer parses only those of the types it applies): no `Context` to resolve."""
    return message


# A plain handler, or a `shared.batch_handler.BatchHandler` (itself callable as one) that reads and writes once per run.
Handler = Callable[[asyncpg.Connection, Any], Awaitable[None]]


class EventRejected(Exception):
    """A well-formed event this service cannot apply; it goes to the dead-letter topic with the reason."""


class EventTooEarly(Exception):
    """A well-formed event that refers to something this service does not know yet (a payment for a loan not
    opened yet, a bank's decision before the routing): parked, and applied when the missing piece arrives —
    or dead-lettered with this reason once the consumer's parking delay has passed."""


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


@dataclass(frozen=True)
class BatchSettings:
    """How a consumer group fetches and parks: the service's `consumer_*` settings."""

    max_records: int = 500
    max_wait_ms: int = 500
    park_retry_seconds: float = 2.0
    park_max_seconds: float = 3600.0
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    commit_interval_ms: int = 100


class PoolHolder:
    """Late-bound pool: consumers are registered before the service's lifespan opens the pool."""

    pool: asyncpg.Pool | None = None

    def get(self) -> asyncpg.Pool:
        """The open pool; fails loudly if the service has not started."""
        if self.pool is None:
            raise RuntimeError("database pool is not open yet")
        return self.pool


@dataclass(slots=True)
class Record:
    """One Kafka record as the consumer keeps it: its coordinates, key, bytes and headers."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, record: ConsumerRecord) -> Record:
        """The record aiokafka fetched."""
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
        return cls(record.topic, record.partition, record.offset, record.key, record.value or b"", headers)

    @property
    def key_text(self) -> str:
        """The key as text ('' without one): how parked events are grouped."""
        return "" if self.key is None else self.key.decode("utf-8", "replace")


@dataclass(slots=True)
class Item:
    """A parsed record waiting to be applied."""

    record: Record
    event: Envelope[Any]
    handler: Handler
    parked_id: int | None = None  # its row in `parked_events` when it comes from there


class BatchFailed(Exception):
    """A batch's transaction failed on some record; `cause` is the error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(repr(cause))
        self.cause = cause
