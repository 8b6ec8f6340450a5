"""A fetch of events a consumer group applies none of goes straight to its offset commits, without FastStream's
per-fetch pipeline (`shared.long_poll`, `EventConsumer.none_for_us`); any other fetch goes the usual way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from shared.clock import FixedClock
from shared.consumer import BatchSettings, PoolHolder, register_consumer
from shared.events import LoanApproved, LoanDisbursed, PaymentMissed, Topics
from shared.failpoints import Failpoints
from shared.long_poll import long_poll

TOPIC = Topics.APPLICATIONS
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class Broker(AIOKafkaConsumer):  # type: ignore[misc]
    """A consumer whose fetches are given in advance and whose commits are recorded; no connection."""

    def __init__(self, *fetches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        self.fetches = list(fetches)
        self.committed: list[dict[TopicPartition, int]] = []

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        return self.fetches.pop(0)

    def assignment(self) -> set[TopicPartition]:
        return {P0, P1}

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        assert offsets is not None
        self.committed.append(dict(offsets))


def record(tp: TopicPartition, offset: int, event_type: str | None) -> ConsumerRecord:
    """A record as the relay writes it (`ce-type` names its type), or without the header (`event_type` None)."""
    headers = [("content-type", b"application/cloudevents+json")] + ([("ce-type", event_type.encode())] if event_type else [])
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"key", b"{}", None, 3, 2, headers)


def servicing_like(broker: KafkaBroker, interval_ms: int = 100) -> Any:
    """A group that applies loan approvals only, as servicing's does on the applications' topic."""

    async def open_loan(conn: Any, event: LoanApproved) -> None:
        raise AssertionError("nothing is applied here")

    return register_consumer(
        broker, pools=PoolHolder(), group_id="servicing", topics=(TOPIC,), handlers={LoanApproved: open_loan},
        clock=FixedClock(), failpoints=Failpoints(""), batching=BatchSettings(commit_interval_ms=interval_ms),
    )


async def test_a_fetch_of_other_groups_events_is_committed_without_reaching_the_handler() -> None:
    broker = KafkaBroker()
    consumer = servicing_like(broker)
    others = {P0: [record(P0, 7, LoanDisbursed.event_type()), record(P0, 8, PaymentMissed.event_type())],
              P1: [record(P1, 3, LoanDisbursed.event_type())]}
    kafka = Broker(others)

    assert consumer.none_for_us(kafka, [r for rs in others.values() for r in rs])
    await consumer.commits.flush()

    assert kafka.committed == [{P0: 9, P1: 4}]


async def test_a_fetch_with_one_event_the_group_applies_or_of_unknown_type_goes_the_usual_way() -> None:
    consumer = servicing_like(KafkaBroker())
    kafka = Broker()
    mixed = [record(P0, 1, LoanDisbursed.event_type()), record(P0, 2, LoanApproved.event_type())]
    unnamed = [record(P0, 3, LoanDisbursed.event_type()), record(P0, 4, None)]  # its type is in its body only

    assert not consumer.none_for_us(kafka, mixed)
    assert not consumer.none_for_us(kafka, unnamed)
    await consumer.commits.flush()
    assert kafka.committed == []  # committed once applied, by the usual way


async def test_without_paced_commits_nothing_is_passed_on() -> None:
    # With a zero interval FastStream commits each fetch it is handed: one it never saw would stay uncommitted.
    consumer = servicing_like(KafkaBroker(), interval_ms=0)

    assert not consumer.none_for_us(Broker(), [record(P0, 1, LoanDisbursed.event_type())])


class Skips:
    """What `long_poll` asks about each fetch, with the answer given and the fetches asked about recorded."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[Sequence[ConsumerRecord]] = []

    def none_for_us(self, consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord]) -> bool:
        self.asked.append(records)
        return self.answer


async def test_the_subscriber_hands_faststream_nothing_of_a_fetch_its_group_applies_none_of() -> None:
    fetch = {P0: [record(P0, 1, LoanDisbursed.event_type())]}
    for answer, handed in ((True, ()), (False, tuple(fetch[P0]))):
        skips = Skips(answer)
        subscriber = long_poll(KafkaBroker().subscriber(TOPIC, batch=True, group_id="servicing"), skips)

        assert await subscriber.get_msg(Broker(fetch, {})) == handed
        assert skips.asked == [tuple(fetch[P0])]


async def test_an_empty_fetch_is_not_asked_about() -> None:
    skips = Skips(True)
    subscriber = long_poll(KafkaBroker().subscriber(TOPIC, batch=True, group_id="servicing"), skips)

    assert await subscriber.get_msg(Broker({})) == ()
    assert skips.asked == []
