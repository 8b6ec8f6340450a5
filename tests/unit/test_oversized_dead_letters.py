"""A dead letter too large for its topic is written cut, with what the full record was; never an endless retry."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from shared.events import Topics
from shared.oversized_dead_letters import PREVIEW_BYTES, cut_utf8, publish_dead_letter

pytestmark = pytest.mark.unit

# What the consumer puts on a dead letter (shared/consumer.py), with the original record's own header.
HEADERS = {
    "content-type": "application/json",
    "dlq-reason": "invalid envelope: id: Field required; type: Field required",
    "dlq-detail": "",
    "dlq-consumer-group": "servicing-bank-payments",
    "dlq-original-topic": "microcredit.partner-payments.credit-mutuel-nord.v1",
    "dlq-original-partition": "2",
    "dlq-original-offset": "41",
    "dlq-trace-id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "dlq-failed-at": "2026-03-02T08:30:00+00:00",
}


class Broker:
    """The dead-letter topic of a broker that refuses, for its size, any record whose value exceeds `limit` bytes."""

    def __init__(self, limit: int | None = None, error: Exception | None = None) -> None:
        self.limit, self.error = limit, error
        self.tried: list[int] = []
        self.written: list[dict[str, Any]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        self.tried.append(len(value))
        if self.error is not None:
            raise self.error
        if self.limit is not None and len(value) > self.limit:
            raise MessageSizeTooLargeError()
        self.written.append({"value": value, "topic": topic, "key": key, "headers": headers})


def bank_file(size: int) -> bytes:
    """A partner bank's statement pasted on the payments topic: JSON, but no event envelope."""
    start, lines = '{"relevé": "'.encode(), b"VIR;8791;2026-03-02;" * (size // 20)
    return start + lines[: size - len(start) - 2] + b'"}'


async def test_a_dead_letter_that_fits_goes_as_it_is() -> None:
    broker, value = Broker(), bank_file(20_000)

    await publish_dead_letter(broker, value, key=b"lot-0302", headers=HEADERS)  # type: ignore[arg-type]

    [written] = broker.written
    assert (written["value"], written["key"], written["topic"], written["headers"]) == (value, b"lot-0302", Topics.DEAD_LETTER, HEADERS)


async def test_a_record_the_producer_would_refuse_with_the_headers_is_written_cut_with_its_size_and_hash() -> None:
    broker, value = Broker(), bank_file(1_048_000)

    await publish_dead_letter(broker, value, key=b"lot-0302", headers=HEADERS)  # type: ignore[arg-type]

    [written] = broker.written
    assert broker.tried == [PREVIEW_BYTES]  # the producer's limit is known: the full one is not even tried
    assert written["value"] == value[:PREVIEW_BYTES] and written["key"] == b"lot-0302"
    assert written["headers"] == {
        **HEADERS, "dlq-payload-truncated": "true", "dlq-original-size": "1048000",
        "dlq-original-sha256": hashlib.sha256(value).hexdigest(),
    }


async def test_a_broker_refusing_every_size_gets_smaller_dead_letters_and_the_consumer_never_retries_for_ever() -> None:
    lower_limit, value = Broker(limit=10_000), bank_file(200_000)

    await publish_dead_letter(lower_limit, value, key=b"lot-0302", headers=HEADERS)  # type: ignore[arg-type]

    assert lower_limit.tried == [200_000, PREVIEW_BYTES, 0]
    [bare] = lower_limit.written
    assert bare["key"] is None and bare["headers"]["dlq-original-offset"] == "41" and "content-type" not in bare["headers"]
    assert bare["headers"]["dlq-original-sha256"] == hashlib.sha256(value).hexdigest()

    # Nothing fits at all: given up (logged), not raised — raising would rewind the consumer to the record.
    nothing = Broker(error=MessageSizeTooLargeError())
    await publish_dead_letter(nothing, value, key=None, headers=HEADERS)  # type: ignore[arg-type]
    assert nothing.tried == [200_000, PREVIEW_BYTES, 0]

    # The broker out of reach is not a matter of size: raised, so the record is tried again later.
    with pytest.raises(KafkaConnectionError):
        await publish_dead_letter(Broker(error=KafkaConnectionError()), value, key=None, headers=HEADERS)  # type: ignore[arg-type]


def test_the_cut_never_splits_a_character() -> None:
    text = "Relevé de compte".encode()  # "é" is two bytes, at 5 and 6

    assert cut_utf8(text, 6) == b"Relev"
    assert cut_utf8(text, 7).decode() == "Relevé"
    assert cut_utf8(b"\x80" * 10, 4) == b"\x80" * 4  # not text at all: cut where asked
