"""Transactional outbox: events stored with the state change, published by a relay afterwards
(`shared/outbox_relay.py`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

import asyncpg
from opentelemetry import propagate

from shared.events.envelope import Envelope
from shared.events.personal import personal_fields, to_seal

# Each service's relay listens on its own schema's channel, so a commit in one service wakes only its own relay
# (one channel for all woke every service's relay, and each ran a query for nothing, at every commit of any).
NOTIFY_CHANNEL_PREFIX = "outbox:"
NOTIFY = f"pg_notify('{NOTIFY_CHANNEL_PREFIX}' || current_schema(), '')"  # the writer's schema: its search_path
NO_TRACE = "{}"  # what `headers` holds when the writer had no trace context


def trace_headers() -> str:
    """The current trace context as the JSON stored in `outbox.headers` ("{}" without one)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier) if carrier else NO_TRACE


# The rows and the relay's wake-up in one statement, one round trip (Postgres sends one notification per
# channel and transaction, at commit).
_INSERT = (
    "with written as (insert into outbox (event_id, event_type, topic, key, payload, headers)"
    " select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::jsonb[]) returning 1)"
    f" select {NOTIFY}"
)
_OutboxRow = tuple[UUID, str, str, str, bytes, str]


class Sealing:
    """What seals the personal fields of the events this process writes (`shared.privacy.sealing.Sealer`), set once at
    the start of a service that writes any (`seal_with`). Without it, an event with a personal value in clear is
    refused: no personal field leaves a service unsealed, not even into its own outbox table."""

    sealer: Any = None


def seal_with(sealer: Any) -> None:
    """Seal the personal fields of every event written from now on with `sealer` (its `seal(conn, events)`)."""
    Sealing.sealer = sealer


async def sealed(conn: asyncpg.Connection, events: Sequence[Envelope[Any]]) -> Sequence[Envelope[Any]]:
    """`events` as they may leave the service: their personal fields sealed, in the caller's transaction.

    An event type without personal fields (every loan event of a close of business) costs one look-up.
    """
    if not any(personal_fields(type(e)) for e in events):
        return events
    if Sealing.sealer is None:
        if any(to_seal(e) for e in events):
            raise RuntimeError("personal fields to write but no sealer: the service was started without its PRIVACY_KEK")
        return events
    return await Sealing.sealer.seal(conn, events)


class OutboxBuffer:
    """Outbox rows held back until the end of a consumer's batch transaction, then written in one statement.

    While `collecting(conn)` is active, `add_to_outbox(conn, …)` appends here (with the trace context of the
    moment, as it would have stored it) instead of writing a row and a notification per event.
    """

    __slots__ = ("conn", "rows")

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.rows: list[tuple[Envelope[Any], str, str]] = []

    async def flush(self) -> None:
        """Seal the events held so far (one key look-up for them all), write them in order, and wake the relay when
        the transaction commits."""
        if self.rows:
            events = await sealed(self.conn, [e for e, _, _ in self.rows])
            await _insert(self.conn, [(e.id, e.type, topic, e.subject, e.to_bytes(), headers)
                                      for e, (_, topic, headers) in zip(events, self.rows, strict=True)])
            self.rows = []


_buffer: ContextVar[OutboxBuffer | None] = ContextVar("outbox_buffer", default=None)


@contextmanager
def collecting(conn: asyncpg.Connection) -> Iterator[OutboxBuffer]:
    """Hold the outbox rows `conn`'s transaction writes in this task until the buffer is flushed."""
    buffer = OutboxBuffer(conn)
    token = _buffer.set(buffer)
    try:
        yield buffer
    finally:
        _buffer.reset(token)


async def add_to_outbox(conn: asyncpg.Connection, *events: Envelope[Any], topic: str | None = None) -> None:
    """Store events in the caller's transaction, with the current trace context to resume later.

    Each goes to its class's topic, or to `topic` when the topic depends on the event (a partner bank's feed).
    """
    if not events:
        return
    headers = trace_headers()
    buffer = _buffer.get()
    if buffer is not None and buffer.conn is conn:
        buffer.rows.extend((e, topic or e.topic, headers) for e in events)
        return
    events = await sealed(conn, events)
    await _insert(conn, [(e.id, e.type, topic or e.topic, e.subject, e.to_bytes(), headers) for e in events])


def outboxed(first: int, written: str = "written") -> str:
    """The CTE of a command's one statement that stores what `add_to_outbox` would, with the relay's wake-up: the events
    of parameters `first` to `first + 5` (`outboxed_arguments`), in order, only if the CTE `written` wrote a row."""
    return (
        "outboxed as (insert into outbox (event_id, event_type, topic, key, payload, headers)"
        f" select e.event_id, e.event_type, e.topic, e.key, e.payload, ${first + 5}::jsonb"
        f" from unnest(${first}::uuid[], ${first + 1}::text[], ${first + 2}::text[], ${first + 3}::text[], ${first + 4}::bytea[])"
        " with ordinality as e (event_id, event_type, topic, key, payload, n)"
        f" where exists (select from {written}) order by e.n returning {NOTIFY})"
    )


async def outboxed_arguments(conn: asyncpg.Connection, events: Sequence[Envelope[Any]]) -> list[Any]:
    """The six parameters of `outboxed` for `events` (each to its class's topic), their personal fields sealed first."""
    events = await sealed(conn, events)
    return [[e.id for e in events], [e.type for e in events], [e.topic for e in events], [e.subject for e in events],
            [e.to_bytes() for e in events], trace_headers()]


async def _insert(conn: asyncpg.Connection, rows: Sequence[_OutboxRow]) -> None:
    """One statement for every row and the relay's wake-up."""
    await conn.execute(_INSERT, *(list(c) for c in zip(*rows, strict=True)))


async def notify_relay(conn: asyncpg.Connection) -> None:
    """Wake the relay when the caller's transaction commits (Postgres collapses it to one per transaction)."""
    await conn.execute(f"select {NOTIFY}")
