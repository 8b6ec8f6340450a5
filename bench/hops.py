"""Event hops read from Kafka: an effect event paired with the event that caused it, and the time between them.

An effect names its cause by id (`data.cause_event_id`: the counsellor's alert of a disbursement, of a
missed instalment…). One hop runs from the cause committed — its envelope `time`, set in the
transaction that wrote it to the outbox — to the effect acknowledged by Kafka — the effect record's
timestamp (`CreateTime`: the producer's clock when the relay sent it). The same hop is also given from
the cause's own record timestamp, which leaves out the cause's relay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.flow_report import percentile


@dataclass(frozen=True)
class Seen:
    """One event as it is on Kafka."""

    id: str
    type: str
    committed_ms: float  # envelope time
    kafka_ms: int  # record timestamp
    cause_id: str | None = None


def short(event_type: str) -> str:
    """`fr.microcredit.loan.disbursed.v1` → `loan.disbursed`."""
    parts = event_type.split(".")
    return ".".join(parts[2:-1]) if len(parts) > 3 and parts[0] == "fr" else event_type


def seen(value: bytes, timestamp_ms: int) -> Seen | None:
    """The event of a record, or None when the record is not an event."""
    try:
        document = json.loads(value)
        data = document.get("data") or {}
        cause = data.get("cause_event_id") if isinstance(data, dict) else None
        committed = datetime.fromisoformat(document["time"].replace("Z", "+00:00")).timestamp() * 1000
        return Seen(str(document["id"]), str(document["type"]), committed, timestamp_ms, str(cause) if cause else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def pair(events: Iterable[Seen]) -> dict[str, list[tuple[float, float]]]:
    """Hop name → (ms from the cause committed, ms from the cause on Kafka) to the effect on Kafka, per pair found."""
    events = list(events)
    by_id = {e.id: e for e in events}
    hops: dict[str, list[tuple[float, float]]] = {}
    for effect in events:
        cause = by_id.get(effect.cause_id) if effect.cause_id else None
        if cause is not None:
            hops.setdefault(f"{short(cause.type)} → {short(effect.type)}", []).append(
                (effect.kafka_ms - cause.committed_ms, float(effect.kafka_ms - cause.kafka_ms))
            )
    return hops


def hop_figures(hops: Mapping[str, Sequence[tuple[float, float]]]) -> dict[str, dict[str, Any]]:
    """Per hop: how many, and p50/p95/p99/max in ms from the cause committed and from the cause on Kafka."""

    def q(values: Sequence[float]) -> dict[str, float | None]:
        out = {f"p{p}": percentile(values, p) for p in (50, 95, 99)}
        out["max"] = max(values) if values else None
        return {k: None if v is None else round(v, 1) for k, v in out.items()}

    return {
        name: {"count": len(pairs), "from_commit": q([c for c, _ in pairs]), "from_kafka": q([k for _, k in pairs])}
        for name, pairs in sorted(hops.items())
    }


async def read_window(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], start_ms: int, end_ms: int) -> list[Seen]:
    """The events on `partitions` with a record timestamp in [start_ms, end_ms]."""
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.offsets_for_times({tp: start_ms for tp in partitions})
    for tp in partitions:
        found = starts.get(tp)
        consumer.seek(tp, found.offset if found is not None else ends[tp])
    out: list[Seen] = []

    async def pending() -> bool:
        return any([await consumer.position(tp) < ends[tp] for tp in partitions])

    while await pending():
        for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
            for record in records:
                if record.offset < ends[tp] and start_ms <= record.timestamp <= end_ms and record.value:
                    event = seen(record.value, record.timestamp)
                    if event is not None:
                        out.append(event)
    return out
