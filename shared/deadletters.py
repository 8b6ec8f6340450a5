"""Dead letters ops can act on: each service keeps those of its own consumer groups and replays or discards them.

Every service consumes `microcredit.dead-letter.v1` under a group of its own (`<service>-dead-letters`)
and stores the records whose `dlq-consumer-group` header names one of its consumer groups, once per
dead-letter record (the record's own topic/partition/offset are unique). A record is stored whatever its
bytes: what can be read (event id and type, trace id) is read, the rest stays null.

Replay is only ever manual (`shared/deadletters_api.py`): the original bytes, key and headers (without
the `dlq-*` ones) go back to the original topic, under the event's own trace. The consumer's inbox
makes a replay of an event already applied change nothing; a replay that fails again comes back as a
new dead letter (a new row naming the one replayed in `replay_of`), never in a loop. Each replay and
discard is audited: who, when (the service clock), why, and where the replayed record went.

A dead letter whose payload was cut to fit its topic (`value_truncated`, `shared/oversized_dead_letters.py`)
is replayed from its original record, read back from the original topic at its coordinates and checked
against the SHA-256 of the full payload; when retention or compaction removed it, the replay is refused
(409, `original_gone`) and the dead letter can only be discarded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid5

import asyncpg
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import context as otel_context
from opentelemetry import propagate

from shared.auth import Principal
from shared.clock import Clock
from shared import oversized_dead_letters as oversized
from shared.consumer import PoolHolder
from shared.events import Topics
from shared.http import Problem, not_found
from shared.metrics import PlumbingMetrics
from shared.settings import ServiceSettings

DLQ_HEADER_PREFIX = "dlq-"
# Put on a replayed record: a replay that fails again is stored naming the dead letter it replays.
REPLAY_OF_HEADER = "microcredit-replay-of"
_ID_NAMESPACE = UUID("6f1c1a52-53a4-4f4e-9a53-0c1d2e4f5a6b")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_REPLAY = 500  # dead letters replayed by one request at most

COLUMNS = (
    "id", "dlq_topic", "dlq_partition", "dlq_offset", "consumer_group", "reason", "detail", "original_topic",
    "original_partition", "original_offset", "event_type", "event_id", "trace_id", "key", "value",
    "header_names", "header_values", "dead_lettered_at", "replay_of", "value_truncated", "original_size", "original_sha256",
)


class KeeperContext(Protocol):
    """What keeping dead letters needs of `shared.runtime.ServiceContext`."""

    name: str
    broker: KafkaBroker
    pools: PoolHolder
    metrics: PlumbingMetrics
    groups: list[str]

    @property
    def settings(self) -> ServiceSettings:
        """Where Kafka is (a cut dead letter's replay reads the original record from its topic); the group's timeouts."""
        ...


# --- reading a dead-letter record -----------------------------------------------------------------


def _text(value: bytes | None, limit: int = 4000) -> str | None:
    """UTF-8 text Postgres can hold (no NUL), or None when the bytes are not text."""
    if value is None:
        return None
    try:
        return _clean(value.decode(), limit)
    except UnicodeDecodeError:
        return None


def _clean(text: str, limit: int = 4000) -> str:
    return text.replace("\x00", "\ufffd")[:limit]


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _event_identity(value: bytes, headers: dict[str, str | None]) -> tuple[UUID | None, str | None]:
    """The event's id and type from its envelope, else from CloudEvents binary-mode headers, else None."""
    try:
        document = json.loads(value)
    except ValueError:
        document = None
    envelope = document if isinstance(document, dict) else {}
    event_type = envelope.get("type") if isinstance(envelope.get("type"), str) else headers.get("ce-type")
    event_id = _uuid(envelope.get("id")) or _uuid(headers.get("ce-id"))
    return event_id, _clean(event_type, 200) if event_type else None


def _trace_id(headers: dict[str, str | None]) -> str | None:
    """The trace the record belongs to: its `traceparent` header, else the consumer's `dlq-trace-id`."""
    parent = _TRACEPARENT.match(headers.get("traceparent") or "")
    if parent:
        return parent.group(1)
    dlq = headers.get("dlq-trace-id") or ""
    return dlq if _TRACE_ID.match(dlq) and dlq.strip("0") else None


def _dead_lettered_at(header: str | None, timestamp_ms: int | None) -> datetime:
    try:
        at = datetime.fromisoformat(header) if header else None
    except ValueError:
        at = None
    if at is not None and at.tzinfo is not None:
        return at
    return datetime.fromtimestamp((timestamp_ms or 0) / 1000, UTC)


def read_record(record: Any, groups: Collection[str]) -> dict[str, Any] | None:
    """The row to store for one dead-letter record (an aiokafka `ConsumerRecord`), or None if another service's."""
    raw = [(str(k), bytes(v or b"")) for k, v in (record.headers or ())]
    headers = {k: _text(v) for k, v in raw}
    group = headers.get("dlq-consumer-group")
    if group not in groups:
        return None
    value = bytes(record.value or b"")
    kept = [(_clean(k, 200), v) for k, v in raw if not k.startswith(DLQ_HEADER_PREFIX)]
    event_id, event_type = _event_identity(value, headers)
    return {
        "id": uuid5(_ID_NAMESPACE, f"{record.topic}/{record.partition}/{record.offset}"),
        "dlq_topic": record.topic,
        "dlq_partition": record.partition,
        "dlq_offset": record.offset,
        "consumer_group": group,
        "reason": headers.get("dlq-reason") or "(no reason given)",
        "detail": headers.get("dlq-detail") or "",
        "original_topic": headers.get("dlq-original-topic") or None,
        "original_partition": _int(headers.get("dlq-original-partition")),
        "original_offset": _int(headers.get("dlq-original-offset")),
        "event_type": event_type,
        "event_id": event_id,
        "trace_id": _trace_id(headers),
        "key": None if record.key is None else bytes(record.key),
        "value": value,
        "header_names": [k for k, _ in kept],
        "header_values": [v for _, v in kept],
        "dead_lettered_at": _dead_lettered_at(headers.get("dlq-failed-at"), record.timestamp),
        "replay_of": _uuid(headers.get(REPLAY_OF_HEADER)),
        # Cut to fit the dead-letter topic: `value` is the start of the payload, the record is at the original coordinates.
        "value_truncated": headers.get(oversized.TRUNCATED_HEADER) == "true",
        "original_size": _int(headers.get(oversized.SIZE_HEADER)),
        "original_sha256": sha if _SHA256.match(sha := headers.get(oversized.SHA256_HEADER) or "") else None,
    }


# --- keeping them -----------------------------------------------------------------------------------


async def store(pool: asyncpg.Pool, row: dict[str, Any]) -> bool:
    """Store one dead letter; False if that dead-letter record was already stored."""
    placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
    inserted = await pool.fetchval(
        f"insert into dead_letters ({', '.join(COLUMNS)}) values ({placeholders})"
        " on conflict (dlq_topic, dlq_partition, dlq_offset) do nothing returning true",
        *(row[c] for c in COLUMNS),
    )
    return bool(inserted)


async def refresh_pending(ctx: KeeperContext) -> None:
    """Set the gauge of pending dead letters of each of the service's groups (0 for a group without any)."""
    rows = await ctx.pools.get().fetch(
        "select consumer_group, count(*) as pending from dead_letters where status = 'pending' group by consumer_group"
    )
    counts = {r["consumer_group"]: r["pending"] for r in rows}
    for group in {*ctx.groups, *counts}:
        ctx.metrics.dead_letters_pending.labels(group).set(counts.get(group, 0))


def keep_dead_letters(ctx: KeeperContext) -> None:
    """Subscribe the service to the dead-letter topic under its own group, to keep its groups' dead letters."""

    async def on_dead_letter(message: KafkaMessage) -> None:
        row = read_record(message.raw_message, ctx.groups)
        if row is not None and await store(ctx.pools.get(), row):
            await refresh_pending(ctx)

    ctx.broker.subscriber(
        Topics.DEAD_LETTER,
        group_id=f"{ctx.name}-dead-letters",
        ack_policy=AckPolicy.NACK_ON_ERROR,  # stored, then committed: a crash in between stores it again, once
        auto_offset_reset="earliest",
        # The same failover as the service's other groups: a killed replica's partitions move on, and a restarted
        # one joins, once the coordinator has given up on the dead member (10 s by default, not the setting's).
        session_timeout_ms=ctx.settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=ctx.settings.consumer_heartbeat_interval_ms,
        title=f"{ctx.name}-dead-letters:{Topics.DEAD_LETTER}",
    )(on_dead_letter)


# --- acting on them ---------------------------------------------------------------------------------


async def _publish(broker: KafkaBroker, row: asyncpg.Record) -> Any:
    """Send the original bytes, key and headers back to the original topic, under the event's own trace."""
    headers = {name: bytes(value).decode("utf-8", "replace") for name, value in zip(row["header_names"], row["header_values"])}
    carrier = {name: headers.pop(name) for name in ("traceparent", "tracestate") if name in headers}
    correlation_id = headers.pop("correlation_id", None)
    headers[REPLAY_OF_HEADER] = str(row["id"])
    token = otel_context.attach(propagate.extract(carrier)) if carrier else None
    try:
        key = None if row["key"] is None else bytes(row["key"])
        return await broker.publish(
            bytes(row["value"]), topic=row["original_topic"], key=key, headers=headers, correlation_id=correlation_id
        )
    finally:
        if token is not None:
            otel_context.detach(token)


def _check_replayable(row: asyncpg.Record) -> None:
    if row["status"] != "pending":
        raise Problem(409, "Not pending", f"dead letter {row['id']} is {row['status']}: only a pending one can be replayed",
                      field="status", rule="not_pending")
    if not row["original_topic"]:
        raise Problem(409, "No original topic", f"dead letter {row['id']} does not say which topic it came from",
                      field="original_topic", rule="no_original_topic")
    if row["value_truncated"] and (row["original_partition"] is None or row["original_offset"] is None):
        raise Problem(409, "Enregistrement d'origine introuvable",
                      f"la lettre morte {row['id']} n'a gardé que le début de son contenu et ne dit pas où est l'enregistrement"
                      " d'origine : elle ne peut qu'être écartée", field="original_offset", rule="original_unknown")


async def _original(ctx: KeeperContext, row: asyncpg.Record) -> Any:
    """The full record of a cut dead letter, read back from its original topic (409 when it is gone, 503 without Kafka)."""
    try:
        return await oversized.read_original(
            ctx.settings.kafka_bootstrap_servers, ctx.settings.kafka_login, row["original_topic"], row["original_partition"], row["original_offset"],
            row["original_sha256"],
        )
    except oversized.OriginalUnavailable as exc:
        raise Problem(409, "Enregistrement d'origine introuvable",
                      f"la lettre morte {row['id']} n'a gardé que les {len(row['value'])} premiers octets de ses"
                      f" {row['original_size']} et ne peut pas être rejouée : {exc}. Elle ne peut qu'être écartée.",
                      field="original_offset", rule="original_gone") from None
    except KafkaError as exc:
        raise Problem(503, "Kafka indisponible",
                      f"l'enregistrement d'origine de la lettre morte {row['id']} n'a pas pu être relu ({exc!r}) : réessayez") from None


async def _republish(ctx: KeeperContext, row: asyncpg.Record, original: Any) -> Any:
    """Send the original record of a cut dead letter back to its topic (409 if the broker now refuses its size)."""
    try:
        return await oversized.replay_original(
            ctx.settings.kafka_bootstrap_servers, ctx.settings.kafka_login, original, (REPLAY_OF_HEADER, str(row["id"]))
        )
    except oversized.ReplayTooLarge as exc:
        raise Problem(409, "Trop grand pour être rejoué", f"la lettre morte {row['id']} ne peut pas être rejouée : {exc}",
                      field="original_size", rule="too_large") from None


async def replay(
    ctx: KeeperContext, clock: Clock, who: Principal, *, ids: Sequence[UUID] | None = None, reason: str | None = None,
    why: str | None = None,
) -> list[UUID]:
    """Replay the dead letters `ids` (all of them, or none: 404/409), or every pending one of exactly `reason`."""
    async with ctx.pools.get().acquire() as conn, conn.transaction():
        if ids is not None:
            rows = await conn.fetch(
                "select * from dead_letters where id = any($1::uuid[]) order by dead_lettered_at, dlq_partition, dlq_offset"
                " for update", list(dict.fromkeys(ids)),
            )
            missing = set(ids) - {r["id"] for r in rows}
            if missing:
                raise not_found("dead letter", ", ".join(sorted(map(str, missing))))
        else:
            rows = await conn.fetch(
                "select * from dead_letters where status = 'pending' and reason = $1 and original_topic is not null"
                " order by dead_lettered_at, dlq_partition, dlq_offset limit $2 for update skip locked", reason, MAX_REPLAY,
            )
        for row in rows:
            _check_replayable(row)
        # A cut dead letter goes back as its full original record, read from its topic: all are read before any is sent.
        originals = {row["id"]: await _original(ctx, row) for row in rows if row["value_truncated"]}
        for row in rows:
            original = originals.get(row["id"])
            sent = await (_publish(ctx.broker, row) if original is None else _republish(ctx, row, original))
            await conn.execute("update dead_letters set status = 'replayed' where id = $1", row["id"])
            await _audit(conn, row["id"], "replayed", who, clock, why, getattr(sent, "partition", None), getattr(sent, "offset", None))
    await refresh_pending(ctx)
    return [r["id"] for r in rows]


async def discard(ctx: KeeperContext, clock: Clock, who: Principal, dead_letter_id: UUID, why: str) -> None:
    """Set a pending dead letter aside for good, with the written reason (409 if it is not pending)."""
    async with ctx.pools.get().acquire() as conn, conn.transaction():
        status = await conn.fetchval("select status from dead_letters where id = $1 for update", dead_letter_id)
        if status is None:
            raise not_found("dead letter", dead_letter_id)
        if status != "pending":
            raise Problem(409, "Not pending", f"dead letter {dead_letter_id} is {status}: only a pending one can be discarded",
                          field="status", rule="not_pending")
        await conn.execute("update dead_letters set status = 'discarded' where id = $1", dead_letter_id)
        await _audit(conn, dead_letter_id, "discarded", who, clock, why, None, None)
    await refresh_pending(ctx)


async def _audit(
    conn: asyncpg.Connection, dead_letter_id: UUID, action: str, who: Principal, clock: Clock, why: str | None,
    partition: int | None, offset: int | None,
) -> None:
    await conn.execute(
        "insert into dead_letter_audit (dead_letter_id, action, actor, at, why, published_partition, published_offset)"
        " values ($1, $2, $3, $4, $5, $6, $7)",
        dead_letter_id, action, who.subject, clock.now(), why, partition, offset,
    )
