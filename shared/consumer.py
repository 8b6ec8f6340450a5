"""At-least-once consumers that apply what they fetch in batches: typed dispatch, idempotent inbox, retries,
parking of early events (`shared/parking.py`), and a dead-letter topic.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Tracer
from pydantic import ValidationError

from shared import inbox, outbox
from shared.asyncapi import document_subscriber
from shared.batch_handler import BatchHandler
from shared.clock import Clock
from shared.consumer_types import (
    BatchFailed,
    BatchSettings,
    EventRejected,
    EventTooEarly,
    Fetch,
    Handler,
    Item,
    PoolHolder,
    Record,
    RetryPolicy,
    undecoded,
)
from shared.events import EVENT_TYPES, EnvelopeHeader, Topics, parse_event
from shared.events.envelope import Envelope
from shared.failpoints import Failpoints
from shared.long_poll import long_poll
from shared.metrics import TRANSACTION_PHASES, OperationsMetrics, PlumbingMetrics
from shared.offset_commits import PacedCommits
from shared.oversized_dead_letters import publish_dead_letter
from shared.parking import Parking

log = logging.getLogger(__name__)

__all__ = [
    "BatchSettings", "EventConsumer", "EventRejected", "EventTooEarly", "Handler", "PoolHolder", "Record", "RetryPolicy",
    "register_consumer",
]

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


@dataclass
class EventConsumer(Parking):
    """Applies the events of some topics for one consumer group, one transaction per partition's batch; parks the
    events that come too early (`shared.parking`)."""

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
    # The channel on which each batch's transaction notifies the keys it applied, for the reads that wait, or None.
    announce: str | None = None
    # The offsets of the fetches applied, committed together at most once per `batching.commit_interval_ms`.
    commits: PacedCommits = field(init=False)
    # This group's series of the phase and fetch-delay histograms, looked up once (none without `operations`).
    _phase_series: tuple[Any, ...] = field(init=False, default=())
    _fetch_delay: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.commits = PacedCommits(self.group_id, self.batching.commit_interval_ms / 1000)
        if self.operations is not None:
            self._phase_series = tuple(self.operations.transaction_phases.labels(self.group_id, p) for p in TRANSACTION_PHASES)
            self._fetch_delay = self.operations.fetch_delay.labels(self.group_id)

    async def on_batch(self, message: Fetch) -> None:
        """Entry point for one fetch; raising makes FastStream rewind every partition of it (nack)."""
        records: Sequence[ConsumerRecord] = message.raw_message
        self._observe_fetch(records)
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

    def none_for_us(self, consumer: Any, records: Sequence[ConsumerRecord]) -> bool:
        """True when every record names (`ce-type`) a type this group does not apply: its offsets are then committed
        as those of an applied fetch would be, and FastStream never sees it (`shared.long_poll`). A record without
        the header is read to know its type, so a fetch with one goes the usual way."""
        if not self.commits.paced(consumer):
            return False
        for record in records:
            declared = next((value for name, value in record.headers or () if name == "ce-type"), None)
            if declared is None or declared.decode("utf-8", "replace") in self.handlers:
                return False
        self.commits.passed(consumer, records)
        return True

    async def apply_partition(self, records: Sequence[Record]) -> int:
        """Apply the records of one partition in offset order; return how many events were applied."""
        items: list[Item] = []
        for record in records:
            item = await self._parse(record)
            if item is not None:
                items.append(item)
        if not items:
            return 0
        return await self._apply_split(items)

    async def _parse(self, record: Record) -> Item | None:
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
        return Item(record, event, handler)

    async def _apply_split(self, items: Sequence[Item]) -> int:
        """Apply `items` in one transaction; on failure, halves in order until the faulty record is alone."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._transaction(items)
            except BatchFailed as failed:
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

    async def _settle_one(self, item: Item, cause: BaseException) -> int:
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
            except BatchFailed as failed:
                error = failed.cause

    async def _transaction(self, items: Sequence[Item]) -> int:
        """Claim, apply and write the outbox rows of `items` in one transaction; how many were applied."""
        applied: list[Item] = []
        tick = time.perf_counter  # the phases' marks (wall time; the service's clock is the business date's)
        try:
            async with self.pools.get().acquire() as conn:
                started = tick()
                async with conn.transaction():
                    begun = tick()
                    # A key with an event parked keeps its later events parked behind it; the others are claimed.
                    # With `announce`, the claim also notifies the keys it claimed, delivered at commit: a woken read
                    # finds what this batch applied.
                    claimed, behind = await inbox.claim_unparked(
                        conn, self.group_id, [i.event for i in items], [i.record.key_text for i in items],
                        [i.parked_id is not None for i in items], announce=self.announce,
                    )
                    claimed_at = tick()
                    to_apply = [i for i in items if i.parked_id is not None or i.record.key_text not in behind]
                    events = [i.event for i in to_apply]
                    if self.opener is not None and to_apply:
                        events = await self.opener.open(conn, events)  # one key look-up for the batch
                    due: list[tuple[Item, Envelope[Any]]] = []
                    for item, event in zip(to_apply, events, strict=True):
                        if item.event.id not in claimed:
                            log.info("event %s already applied by %s: skipped", item.event.id, self.group_id)
                            continue
                        claimed.discard(item.event.id)  # the same event twice in one batch applies once
                        due.append((item, event))
                    with outbox.collecting(conn) as rows:
                        for handler, run in groupby(due, key=lambda pair: pair[0].handler):
                            await self._apply_run(conn, handler, list(run), applied)
                        handled = tick()
                        await rows.flush()
                    parked = [i.parked_id for i in items if i.parked_id is not None]
                    if parked:
                        await conn.execute("delete from parked_events where id = any($1::bigint[])", parked)
                    for item in items:
                        if item.parked_id is None and item.record.key_text in behind:
                            await self._park_row(conn, item, "behind an earlier parked event of the same key")
                    written = tick()
                committed = tick()
        except Exception as exc:
            raise BatchFailed(exc) from exc
        for item in applied:
            self.failpoints.hit("after_commit", item.event.type)
        self._observe(applied)
        self._observe_phases((started, begun, claimed_at, handled, written, committed))
        return len(applied)

    async def _apply_run(
        self, conn: asyncpg.Connection, handler: Handler, run: Sequence[tuple[Item, Envelope[Any]]], applied: list[Item]
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

    def _span(self, item: Item) -> Any:
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

    def _observe_fetch(self, records: Sequence[ConsumerRecord]) -> None:
        """How long the fetch's records took from their Kafka timestamp to here (the wall clock, as `_observe`)."""
        if self._fetch_delay is None:
            return
        now_ms = time.time() * 1000
        for raw in records:
            if raw.timestamp > 0:  # -1: a record without a timestamp
                self._fetch_delay.observe(max(0.0, now_ms - raw.timestamp) / 1000)

    def _observe_phases(self, marks: Sequence[float]) -> None:
        """The time between each two marks of a committed transaction, one per phase (`TRANSACTION_PHASES`)."""
        for series, start, end in zip(self._phase_series, marks[:-1], marks[1:], strict=False):  # () without `operations`
            series.observe(end - start)

    def _observe(self, applied: Iterable[Item]) -> None:
        if self.operations is None:
            return
        now = time.time()  # envelope time to commit, on the wall clock (the service clock may be a test's fixed one)
        for item in applied:
            latency = max(0.0, now - item.event.time.timestamp())
            self.operations.events_applied.labels(self.group_id, item.event.type).observe(latency)

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
    announce: str | None = None,
) -> EventConsumer:
    """Subscribe `handlers` (event class → handler) to `topics` under `group_id`, at-least-once, in batches.

    With `pattern` instead of topics, every topic whose name matches it, one created later included (the client
    looks for new ones each `metadata_max_age_ms`); `address` names them in the documents (`...{bank_id}...`).
    `refuse(topic, event)` says why an event may not come on the topic it came on: it is dead-lettered with that reason.
    `announce`: the Postgres channel on which each batch's transaction notifies the keys it applied (`shared.arrivals`).
    """
    unknown = {cls.__name__ for cls in handlers if EVENT_TYPES.get(cls.event_type()) is not cls}
    if unknown:
        raise ValueError(f"handlers for event classes outside the catalogue: {sorted(unknown)}")
    by_type = {cls.event_type(): handler for cls, handler in handlers.items()}
    consumer = EventConsumer(
        broker, pools, group_id, by_type, clock, failpoints, metrics, operations,
        batching=batching, tracer=tracer or trace.get_tracer(__name__), on_applied=on_applied, refuse=refuse,
        opener=opener, announce=announce,
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
        decoder=undecoded,  # `on_batch` takes the fetch itself (`shared.consumer_types.Fetch`)
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
    # No sleep after an empty fetch: an idle consumer waits on the broker, not on a timer; a fetch of only other groups'
    # events goes to the commits without FastStream's per-fetch pipeline.
    long_poll(subscriber, consumer)
    subscriber(consumer.on_batch)
    # The handler takes the raw records; the AsyncAPI document shows the events it applies.
    document_subscriber(subscriber, handlers, address=address)
    return consumer
