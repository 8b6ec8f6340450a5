"""At-least-once consumers that apply what they fetch in batches: typed dispatch, idempotent inbox, retries,
parking of early events, and a dead-letter topic.

A fetch brings the records of several partitions. The records of each partition are applied in their own
transaction (partitions in parallel, each on its own connection): one inbox statement claims every event
id of the batch, the handlers run in offset order (a `shared.batch_handler.BatchHandler` reads and writes
once for each run of its consecutive events instead of once per event), the outbox rows they write go in
one statement at the end, one commit. The fetch's offsets are then committed with those of the next
fetches, at most once per `commit_interval_ms` (`shared/offset_commits.py`): never an offset whose
transaction did not commit. A batch that fails is split in halves until the record at fault is alone: it
alone is retried, parked or dead-lettered, the others are applied.
Records of one key are always applied in offset order; a key with a parked event keeps its later events
parked behind it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Tracer
from pydantic import ValidationError

from shared import inbox, outbox
from shared.asyncapi import document_subscriber
from shared.batch_handler import BatchHandler
from shared.clock import Clock
from shared.events import EVENT_TYPES, EnvelopeHeader, Topics, parse_event
from shared.events.envelope import Envelope
from shared.failpoints import Failpoints
from shared.long_poll import long_poll
from shared.metrics import OperationsMetrics, PlumbingMetrics
from shared.offset_commits import PacedCommits
from shared.oversized_dead_letters import publish_dead_letter

log = logging.getLogger(__name__)

# A plain handler, or a `shared.batch_handler.BatchHandler` (itself callable as one) that reads and writes once per run.
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
    asyncpg.AdminShutdownError,  # a fast shutdown or restart of the database
    asyncpg.CrashShutdownError,
)


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
class _Item:
    """A parsed record waiting to be applied."""

    record: Record
    event: Envelope[Any]
    handler: Handler
    parked_id: int | None = None  # its row in `parked_events` when it comes from there


class _BatchFailed(Exception):
    """A batch's transaction failed on some record; `cause` is the error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(repr(cause))
        self.cause = cause


@dataclass
class EventConsumer:
    """Applies the events of some topics for one consumer group, one transaction per partition's batch."""

    broker: KafkaBroker
    pools: PoolHolder
    group_id: str
    handlers: Mapping[str, Handler]
    clock: Clock
    failpoints: Failpoints
    metrics: PlumbingMetrics | None = None
    operations: OperationsMetrics | None = None
    retry: RetryPolicy = RetryPolicy()
    batching: BatchSettings = BatchSettings()
    tracer: Tracer = field(default_factory=lambda: trace.get_tracer(__name__))
    # Called after a batch applied something: the service wakes its parked events' retries.
    on_applied: Callable[[], None] = lambda: None
    # False once a look found nothing parked for the group: a batch applied then wakes no query.
    maybe_parked: bool = True
    # Why an event may not come on the topic it came on (a bank writing in another bank's name), or None.
    refuse: Callable[[str, Envelope[Any]], str | None] | None = None
    # Opens the personal fields the service is granted (`shared.privacy.sealing.Opener`), in the batch's transaction.
    opener: Any = None
    # The offsets of the fetches applied, committed together at most once per `batching.commit_interval_ms`.
    commits: PacedCommits = field(init=False)

    def __post_init__(self) -> None:
        self.commits = PacedCommits(self.group_id, self.batching.commit_interval_ms / 1000)

    async def on_batch(self, message: KafkaMessage) -> None:
        """Entry point for one fetch; raising makes FastStream rewind every partition of it (nack)."""
        records: Sequence[ConsumerRecord] = message.raw_message
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for raw in records:
            by_partition.setdefault((raw.topic, raw.partition), []).append(Record.of(raw))
        # Every partition finishes before the fetch is acknowledged or rewound: none still runs beside the next fetch.
        results = await asyncio.gather(*(self.apply_partition(batch) for batch in by_partition.values()), return_exceptions=True)
        if any(isinstance(r, int) and r for r in results):
            self.on_applied()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        self.commits.applied(message)

    async def apply_partition(self, records: Sequence[Record]) -> int:
        """Apply the records of one partition in offset order; return how many events were applied."""
        items: list[_Item] = []
        for record in records:
            item = await self._parse(record)
            if item is not None:
                items.append(item)
        if not items:
            return 0
        return await self._apply_split(items)

    async def _parse(self, record: Record) -> _Item | None:
        # The relay names the type in a header: a record of a type this group does not apply is skipped unparsed.
        declared = record.headers.get("ce-type")
        if declared is not None and declared not in self.handlers:
            return None
        if declared is None:
            try:
                declared = EnvelopeHeader.model_validate_json(record.value).type
            except ValidationError as exc:
                await self.dead_letter(record, f"invalid envelope: {_summary(exc)}")
                return None
            if declared not in self.handlers:
                # Another consumer's event, or a newer type this version does not know: not an error.
                return None
        try:
            event = parse_event(record.value)
        except ValidationError as exc:
            await self.dead_letter(record, f"invalid {declared}: {_summary(exc)}")
            return None
        handler = self.handlers.get(event.type)
        if handler is None:  # the header lied about the type: the body decides
            return None
        if self.refuse is not None and (refusal := self.refuse(record.topic, event)):
            await self.dead_letter(record, f"rejected {event.type}: {refusal}")
            return None
        return _Item(record, event, handler)

    async def _apply_split(self, items: Sequence[_Item]) -> int:
        """Apply `items` in one transaction; on failure, halves in order until the faulty record is alone."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._transaction(items)
            except _BatchFailed as failed:
                if len(items) == 1:
                    return await self._settle_one(items[0], failed.cause)
                if isinstance(failed.cause, TRANSIENT_ERRORS) and attempt < self.retry.transient_attempts:
                    log.warning("transient failure on a batch of %d for %s (attempt %d): %r",
                                len(items), self.group_id, attempt, failed.cause)
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                if isinstance(failed.cause, TRANSIENT_ERRORS):
                    raise failed.cause from None  # redelivered by Kafka, never lost
                middle = len(items) // 2
                return await self._apply_split(items[:middle]) + await self._apply_split(items[middle:])

    async def _settle_one(self, item: _Item, cause: BaseException) -> int:
        """One record failed alone: retry it, park it, or dead-letter it, as its error says."""
        attempt, error = 1, cause
        while True:
            if isinstance(error, EventRejected):
                await self.dead_letter(item.record, f"rejected {item.event.type}: {error}", parked_id=item.parked_id)
                return 0
            if isinstance(error, EventTooEarly):
                await self.park(item, str(error))
                return 0
            if isinstance(error, TRANSIENT_ERRORS):
                if attempt >= self.retry.transient_attempts:
                    raise error  # give the message back to Kafka: redelivered, never lost
                log.warning("transient failure on %s (attempt %d): %r", item.event.id, attempt, error)
            elif attempt >= self.retry.unexpected_attempts:
                log.error("giving up on %s after %d attempts", item.event.id, attempt, exc_info=error)
                detail = "".join(traceback.format_exception(error))
                await self.dead_letter(item.record, f"handler failed on {item.event.type}: {error!r}",
                                       detail=detail, parked_id=item.parked_id)
                return 0
            else:
                log.warning("failure on %s (attempt %d): %r", item.event.id, attempt, error)
            await asyncio.sleep(self.retry.delay(attempt))
            attempt += 1
            try:
                return await self._transaction((item,))
            except _BatchFailed as failed:
                error = failed.cause

    async def _transaction(self, items: Sequence[_Item]) -> int:
        """Claim, apply and write the outbox rows of `items` in one transaction; how many were applied."""
        applied: list[_Item] = []
        try:
            async with self.pools.get().acquire() as conn:
                async with conn.transaction():
                    # A key with an event parked keeps its later events parked behind it; the others are claimed.
                    claimed, behind = await inbox.claim_unparked(
                        conn, self.group_id, [i.event for i in items], [i.record.key_text for i in items],
                        [i.parked_id is not None for i in items],
                    )
                    to_apply = [i for i in items if i.parked_id is not None or i.record.key_text not in behind]
                    events = [i.event for i in to_apply]
                    if self.opener is not None and to_apply:
                        events = await self.opener.open(conn, events)  # one key look-up for the batch
                    due: list[tuple[_Item, Envelope[Any]]] = []
                    for item, event in zip(to_apply, events, strict=True):
                        if item.event.id not in claimed:
                            log.info("event %s already applied by %s: skipped", item.event.id, self.group_id)
                            continue
                        claimed.discard(item.event.id)  # the same event twice in one batch applies once
                        due.append((item, event))
                    with outbox.collecting(conn) as rows:
                        for handler, run in groupby(due, key=lambda pair: pair[0].handler):
                            await self._apply_run(conn, handler, list(run), applied)
                        await rows.flush()
                    parked = [i.parked_id for i in items if i.parked_id is not None]
                    if parked:
                        await conn.execute("delete from parked_events where id = any($1::bigint[])", parked)
                    for item in items:
                        if item.parked_id is None and item.record.key_text in behind:
                            await self._park_row(conn, item, "behind an earlier parked event of the same key")
        except Exception as exc:
            raise _BatchFailed(exc) from exc
        for item in applied:
            self.failpoints.hit("after_commit", item.event.type)
        self._observe(applied)
        return len(applied)

    async def _apply_run(
        self, conn: asyncpg.Connection, handler: Handler, run: Sequence[tuple[_Item, Envelope[Any]]], applied: list[_Item]
    ) -> None:
        """Apply consecutive events of one handler; a `BatchHandler` prepares and finishes them once for the run."""
        state: Any = None
        if isinstance(handler, BatchHandler):
            state = await handler.prepare(conn, [event for _, event in run])
        for item, event in run:
            with self._span(item):
                if isinstance(handler, BatchHandler):
                    await handler.apply(conn, event, state)
                else:
                    await handler(conn, event)
            applied.append(item)
            self.failpoints.hit("before_commit", item.event.type)
        if isinstance(handler, BatchHandler):
            await handler.finish(conn, state)

    def _span(self, item: _Item) -> Any:
        """The span of one event processed, a child of the span that published it (when it was traced)."""
        record = item.record
        return self.tracer.start_as_current_span(
            f"{record.topic} process",
            context=propagate.extract(record.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation": "process",
                "messaging.destination.name": record.topic,
                "messaging.kafka.consumer.group": self.group_id,
                "messaging.kafka.destination.partition": record.partition,
                "messaging.kafka.message.offset": record.offset,
                "cloudevents.event_id": str(item.event.id),
                "cloudevents.event_type": item.event.type,
            },
        )

    def _observe(self, applied: Iterable[_Item]) -> None:
        if self.operations is None:
            return
        now = time.time()  # envelope time to commit, on the wall clock (the service clock may be a test's fixed one)
        for item in applied:
            latency = max(0.0, now - item.event.time.timestamp())
            self.operations.events_applied.labels(self.group_id, item.event.type).observe(latency)

    # --- parking -----------------------------------------------------------------------------------

    async def park(self, item: _Item, reason: str) -> None:
        """Keep an early event aside (or keep it parked, with its latest reason), so its partition flows."""
        async with self.pools.get().acquire() as conn:
            if item.parked_id is not None:
                await conn.execute(
                    "update parked_events set reason = $2, attempts = attempts + 1 where id = $1", item.parked_id, reason[:2000]
                )
                return
            await self._park_row(conn, item, reason)
        log.info("parked %s %s for %s: %s", item.event.type, item.event.id, self.group_id, reason)

    async def _park_row(self, conn: asyncpg.Connection, item: _Item, reason: str) -> None:
        record = item.record
        await conn.execute(
            "insert into parked_events (consumer, key, event_id, event_type, topic, partition, kafka_offset,"
            " record_key, payload, header_names, header_values, reason, parked_at)"
            " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) on conflict (consumer, event_id) do nothing",
            self.group_id, record.key_text, item.event.id, item.event.type, record.topic, record.partition, record.offset,
            record.key, record.value, list(record.headers), list(record.headers.values()), reason[:2000], self.clock.now(),
        )
        self.maybe_parked = True

    async def retry_parked(self) -> int:
        """Try the parked events again, oldest first per key; dead-letter those parked longer than allowed.

        One replica at a time does it (a session advisory lock held on its own connection); the rows are read once
        the lock is held, so a replica never retries rows another one has just settled. Returns how many were applied.
        """
        pool = self.pools.get()
        lock = f"parked:{self.group_id}"
        applied = 0
        async with pool.acquire() as leader:
            if not await leader.fetchval("select pg_try_advisory_lock(hashtext($1))", lock):
                return 0
            try:
                rows = await leader.fetch(
                    "select id, key, topic, partition, kafka_offset, record_key, payload, header_names, header_values, parked_at"
                    " from parked_events where consumer = $1 order by key, id",
                    self.group_id,
                )
                if not rows:
                    self.maybe_parked = False
                    return 0
                now = self.clock.now()
                by_key: dict[str, list[asyncpg.Record]] = {}
                for row in rows:
                    by_key.setdefault(row["key"], []).append(row)
                for key_rows in by_key.values():
                    for row in key_rows:
                        record = Record(row["topic"], row["partition"], row["kafka_offset"], row["record_key"],
                                        bytes(row["payload"]), dict(zip(row["header_names"], row["header_values"])))
                        event = parse_event(record.value)
                        item = _Item(record, event, self.handlers.get(event.type, _no_handler), parked_id=row["id"])
                        overdue = (now - row["parked_at"]).total_seconds() >= self.batching.park_max_seconds
                        done = await self._retry_one(item, overdue)
                        applied += done
                        if not done and not overdue:
                            break  # still too early: the events behind it on this key wait too
            finally:
                await leader.execute("select pg_advisory_unlock(hashtext($1))", lock)
        if applied:
            self.on_applied()
        return applied

    async def _retry_one(self, item: _Item, overdue: bool) -> int:
        try:
            return await self._transaction((item,))
        except _BatchFailed as failed:
            if isinstance(failed.cause, EventTooEarly) and overdue:
                await self.dead_letter(
                    item.record,
                    f"too early for {item.event.type}, parked longer than {self.batching.park_max_seconds:g} s: {failed.cause}",
                    parked_id=item.parked_id,
                )
                return 0
            if isinstance(failed.cause, EventTooEarly):
                await self.park(item, str(failed.cause))
                return 0
            return await self._settle_one(item, failed.cause)

    async def run_parked(self, wake: asyncio.Event) -> None:
        """Retry parked events whenever something was applied, and at least every `park_retry_seconds`."""
        while True:
            try:
                await asyncio.wait_for(wake.wait(), self.batching.park_retry_seconds)
                wake.clear()
                if not self.maybe_parked:
                    continue  # nothing parked here at the last look (another replica's parking is seen on the period)
            except TimeoutError:
                pass
            try:
                await self.retry_parked()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retrying the parked events of %s failed; trying again later", self.group_id)

    # --- dead letters ------------------------------------------------------------------------------

    async def dead_letter(self, record: Record, reason: str, *, detail: str = "", parked_id: int | None = None) -> None:
        """Publish the original bytes to the dead-letter topic with the reason and coordinates, under a span of the
        record's trace (a new trace when it came without one), whose id the dead letter names for ops."""
        with self.tracer.start_as_current_span(
            f"{record.topic} dead-letter",
            context=propagate.extract(record.headers),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.kafka.consumer.group": self.group_id, "dlq.reason": reason[:500]},
        ) as span:
            await self._dead_letter(span.get_span_context(), record, reason, detail, parked_id)

    async def _dead_letter(
        self, span_context: trace.SpanContext, record: Record, reason: str, detail: str, parked_id: int | None
    ) -> None:
        headers = {
            **record.headers,
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
        await publish_dead_letter(self.broker, record.value, key=record.key, headers=headers)
        if parked_id is not None:
            async with self.pools.get().acquire() as conn:
                await conn.execute("delete from parked_events where id = $1", parked_id)
        if self.metrics is not None:
            self.metrics.dead_letters.labels(self.group_id, record.topic).inc()


async def _no_handler(_conn: asyncpg.Connection, event: Envelope[Any]) -> None:
    raise EventRejected(f"no handler for {event.type} any more")


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
    pattern: str | None = None,
    address: str | None = None,
    refuse: Callable[[str, Envelope[Any]], str | None] | None = None,
    clock: Clock,
    failpoints: Failpoints,
    metrics: PlumbingMetrics | None = None,
    operations: OperationsMetrics | None = None,
    batching: BatchSettings = BatchSettings(),
    tracer: Tracer | None = None,
    on_applied: Callable[[], None] = lambda: None,
    description: str | None = None,
    opener: Any = None,
) -> EventConsumer:
    """Subscribe `handlers` (event class → handler) to `topics` under `group_id`, at-least-once, in batches.

    With `pattern` instead of topics, every topic whose name matches it, one created later included (the client
    looks for new ones each `metadata_max_age_ms`); `address` names them in the documents (`...{bank_id}...`).
    `refuse(topic, event)` says why an event may not come on the topic it came on: it is dead-lettered with that reason.
    """
    unknown = {cls.__name__ for cls in handlers if EVENT_TYPES.get(cls.event_type()) is not cls}
    if unknown:
        raise ValueError(f"handlers for event classes outside the catalogue: {sorted(unknown)}")
    by_type = {cls.event_type(): handler for cls, handler in handlers.items()}
    consumer = EventConsumer(
        broker, pools, group_id, by_type, clock, failpoints, metrics, operations,
        batching=batching, tracer=tracer or trace.get_tracer(__name__), on_applied=on_applied, refuse=refuse,
        opener=opener,
    )
    description = description or (
        f"Consumer group `{group_id}`: each event applied at least once, in one transaction with its inbox claim "
        f"(a fetch's records of one partition share one transaction); an event it refuses goes to `{Topics.DEAD_LETTER}` "
        "with the reason, an event about something not known yet is parked until it is."
    )
    named = address or (topics[0] if len(topics) == 1 else None)
    subscriber = broker.subscriber(
        *topics,
        # Anchored at the end too: aiokafka matches a pattern from the start of the topic's name only.
        pattern=None if pattern is None else f"{pattern}$",
        group_id=group_id,
        batch=True,
        max_records=batching.max_records,
        # How long an idle fetch waits before the loop turns again; a fetch returns at once with what has arrived.
        batch_timeout_ms=batching.max_wait_ms,
        # Commit the offsets only after the batch's transactions committed (never ack-first).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        # The replicas of a service share the group's partitions; a replica that stops heart-beating loses its share
        # to the others after the session timeout.
        session_timeout_ms=batching.session_timeout_ms,
        heartbeat_interval_ms=batching.heartbeat_interval_ms,
        # What was applied is committed before a rebalance takes partitions away (`shared/offset_commits.py`).
        listener=consumer.commits.listener(),
        # The AsyncAPI channels' names: `<group>:<topic>` (FastStream suffixes each topic when there are several).
        title=f"{group_id}:{named}" if named else group_id,
        description=description,
    )
    long_poll(subscriber)  # no sleep after an empty fetch: an idle consumer waits on the broker, not on a timer
    subscriber(consumer.on_batch)
    # The handler takes the raw records; the AsyncAPI document shows the events it applies.
    document_subscriber(subscriber, handlers, address=address)
    return consumer
