"""Dead letters too large for the dead-letter topic: the payload cut, a pointer to the original record kept.

A record the broker accepted (up to `message.max.bytes`, 1 MiB + 12 bytes by default) can be too large
for the dead-letter topic once the consumer adds its `dlq-*` headers: aiokafka refuses any record above
the producer's `max_request_size` (1 MiB), and the broker any batch above its own limit. Raising would
make the consumer rewind to that record for ever and stop its partition. Such a dead letter carries
instead the start of the payload (`PREVIEW_BYTES`), `dlq-payload-truncated: true`, the full payload's size
and SHA-256, and the `dlq-original-topic/partition/offset` the consumer always adds: the original record
stays on its topic, and a replay reads it back from there (`read_original`, `replay_original`) rather than
replaying the cut bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    OffsetOutOfRangeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faststream.kafka import KafkaBroker

from shared.events import Topics
from shared.kafka_auth import KafkaLogin, aiokafka_options

log = logging.getLogger(__name__)

# The producer's `max_request_size`: aiokafka's and FastStream's default, which shared/broker.py keeps.
MAX_REQUEST_BYTES = 1024 * 1024
# What the publish adds after the estimate: FastStream's correlation id and content type, traceparent/tracestate.
HEADROOM_BYTES = 2 * 1024
# Enough of the payload for ops to see what it was; the whole of it stays on the original topic.
PREVIEW_BYTES = 64 * 1024
# The last resort keeps each `dlq-*` header to this many characters.
BARE_HEADER_CHARS = 500
TRUNCATED_HEADER = "dlq-payload-truncated"
SIZE_HEADER = "dlq-original-size"
SHA256_HEADER = "dlq-original-sha256"
# What the producer or the broker answers for a record too large; anything else (broker down) is retried.
SIZE_ERRORS: tuple[type[BaseException], ...] = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


def record_size(key: bytes | None, value: bytes | None, headers: Mapping[str, str]) -> int:
    """aiokafka's estimate of one record alone in a batch, the figure it compares with `max_request_size`."""
    encoded = [(name, text.encode()) for name, text in headers.items()]
    return DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, encoded)


def cut_utf8(value: bytes, limit: int) -> bytes:
    """The first `limit` bytes at most, without splitting a UTF-8 character (text stays readable)."""
    if len(value) <= limit:
        return value
    end = limit
    # value[end] is the first byte left out: while it continues a character (10xxxxxx), leave that one out too.
    while end > max(0, limit - 3) and value[end] & 0xC0 == 0x80:
        end -= 1
    return value[:limit] if value[end] & 0xC0 == 0x80 else value[:end]  # not UTF-8 at all: cut where asked


def cut_headers(value: bytes) -> dict[str, str]:
    """The headers saying that a dead letter's payload was cut, and what the full one was."""
    return {TRUNCATED_HEADER: "true", SIZE_HEADER: str(len(value)), SHA256_HEADER: hashlib.sha256(value).hexdigest()}


@dataclass(frozen=True)
class DeadLetterRecord:
    """One way of writing a dead letter to its topic."""

    value: bytes
    key: bytes | None
    headers: dict[str, str]


def candidates(value: bytes, key: bytes | None, headers: Mapping[str, str], limit: int = MAX_REQUEST_BYTES) -> list[DeadLetterRecord]:
    """The ways to write a dead letter, best first: as it is when it fits `limit`; the payload cut; bare.

    The bare one (no payload, no key, only the `dlq-*` headers, each shortened) fits any broker.
    """
    as_is = DeadLetterRecord(value, key, dict(headers))
    cut = DeadLetterRecord(cut_utf8(value, PREVIEW_BYTES), key, {**headers, **cut_headers(value)})
    bare = DeadLetterRecord(
        b"", None, {name: text[:BARE_HEADER_CHARS] for name, text in cut.headers.items() if name.startswith("dlq-")}
    )
    fitting = [c for c in (as_is, cut) if record_size(c.key, c.value, c.headers) + HEADROOM_BYTES <= limit]
    return [*fitting, bare]


async def publish_dead_letter(broker: KafkaBroker, value: bytes, *, key: bytes | None, headers: Mapping[str, str]) -> None:
    """Write a dead letter to the dead-letter topic, cut if it must be: never fails for its size.

    A size refusal (the producer's estimate, or the broker's own limit) moves on to the next way of
    writing it; other errors (the broker unreachable) are raised, for the consumer to try the record again.
    """
    where = f"{headers.get('dlq-original-topic')}[{headers.get('dlq-original-partition')}]@{headers.get('dlq-original-offset')}"
    for way in candidates(value, key, headers):
        try:
            await broker.publish(way.value, topic=Topics.DEAD_LETTER, key=way.key, headers=way.headers)
        except SIZE_ERRORS as exc:
            log.warning("dead letter of %s refused for its size (%r): trying it smaller", where, exc)
            continue
        if way.value is not value:
            log.warning("dead letter of %s written with its payload cut to %d of %d bytes", where, len(way.value), len(value))
        return
    # Not even the bare dead letter fits: the topic's limit is absurdly low. Raising would stop the partition
    # for ever; the record stays on its topic, at the coordinates this line names.
    log.critical("dead letter of %s could not be written at any size: left on its topic", where)


# --- replaying one: the full record, read back from its topic -----------------------------------------


class OriginalUnavailable(Exception):
    """The original record of a cut dead letter cannot be read back as it was (what happened, in French)."""


async def read_original(bootstrap: str, login: KafkaLogin | None, topic: str, partition: int, offset: int, sha256: str | None, *, timeout: float = 15.0) -> Any:
    """The record at `topic[partition]@offset` (an aiokafka `ConsumerRecord`), checked against `sha256`.

    Raises `OriginalUnavailable` when retention or compaction removed it, or when another payload is
    there now (the topic was recreated).
    """
    where = f"{topic}[{partition}]@{offset}"
    if partition not in await _partitions(bootstrap, login, topic):
        raise OriginalUnavailable(f"le sujet {topic} n'a pas (ou plus) de partition {partition} : {where} est introuvable")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="none", **aiokafka_options(login)
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        first, end = (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
        if not first <= offset < end:
            raise OriginalUnavailable(
                f"l'enregistrement d'origine {where} n'est plus sur son sujet (la partition commence à l'offset {first}) :"
                " la rétention l'a effacé"
            )
        consumer.seek(tp, offset)
        try:
            batch = await consumer.getmany(tp, timeout_ms=int(timeout * 1000), max_records=1)
        except OffsetOutOfRangeError:
            raise OriginalUnavailable(f"l'enregistrement d'origine {where} vient d'être effacé par la rétention") from None
        records = batch.get(tp, [])
        if not records:
            raise KafkaError(f"{where} could not be fetched within {timeout:.0f} s")
        record = records[0]
        if record.offset != offset:
            raise OriginalUnavailable(f"l'enregistrement d'origine {where} a été effacé par le compactage du sujet")
        if sha256 is not None and hashlib.sha256(record.value or b"").hexdigest() != sha256:
            raise OriginalUnavailable(
                f"l'enregistrement lu à {where} n'est plus celui qui a été mis de côté (empreinte SHA-256 différente) :"
                " le sujet a sans doute été recréé"
            )
        return record
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, login: KafkaLogin | None, topic: str) -> set[int]:
    """The topic's partitions as the broker knows them now (none when the topic is gone)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **aiokafka_options(login))
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return set() if described["error_code"] else {p["partition"] for p in described["partitions"]}


class ReplayTooLarge(Exception):
    """The broker refuses the original record even without the replay header (its limit was lowered since)."""


async def replay_original(bootstrap: str, login: KafkaLogin | None, original: Any, replay_header: tuple[str, str]) -> Any:
    """Publish the record read back by `read_original` to its topic, with `replay_header`; where it went.

    Its own headers go with it (its `traceparent` too: the replay joins the event's trace). A record at
    the broker's very limit has no room for `replay_header`: it goes back without it (the audit still
    says where it went).
    """
    name, text = replay_header
    own = [(k, bytes(v or b"")) for k, v in (original.headers or ()) if k != name]
    # The broker decides what is too large: the client's own check would refuse what the broker accepts.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", max_request_size=64 * 1024 * 1024,
        **aiokafka_options(login),
    )
    await producer.start()
    try:
        for headers in ([*own, (name, text.encode())], own):
            try:
                return await producer.send_and_wait(original.topic, value=original.value, key=original.key, headers=headers)
            except SIZE_ERRORS as exc:
                log.warning("replay of %s[%s]@%s refused for its size (%r)", original.topic, original.partition, original.offset, exc)
        raise ReplayTooLarge(
            f"le courtier refuse l'enregistrement d'origine {original.topic}[{original.partition}]@{original.offset}"
            f" ({len(original.value or b'')} octets) : il dépasse désormais la taille maximale du sujet"
        )
    finally:
        await producer.stop()
