"""The broker says no (issue 13): with its own credentials a bank reads its feed and nothing else, writes its own incoming
topics and no other bank's, and a service writes only its own streams. Real clients on the session's broker, whose
users and ACLs are deploy/kafka_security/'s."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from deploy.kafka_security import bank_principal
from deploy.local import REPO_ROOT
from shared.events import PartnerTopics, Topics
from tests.support.infra import kafka_client, kafka_login

pytestmark = pytest.mark.integration

BANK, OTHER_BANK = "credit-mutuel-nord", "la-banque-postale"  # the directory seed's partner banks


async def produce(kafka: str, principal: str, topic: str, value: bytes) -> tuple[int, int]:
    """Write one record as `principal`; its (partition, offset)."""
    producer = AIOKafkaProducer(**kafka_client(kafka, principal), enable_idempotence=True, request_timeout_ms=10_000)
    try:
        await producer.start()
        sent = await producer.send_and_wait(topic, value, key=b"k")
        return sent.partition, sent.offset
    finally:
        await producer.stop()


async def read(kafka: str, principal: str, topic: str, group: str, until: bytes | None = None) -> list[bytes]:
    """What `principal` reads of `topic` from the beginning under `group` (up to `until`, or one empty fetch)."""
    consumer = AIOKafkaConsumer(
        topic, **kafka_client(kafka, principal), group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        await consumer.start()
        seen: list[bytes] = []
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=1000)
            seen += [record.value for records in batch.values() for record in records]
            if until is None or until in seen:
                return seen
        return seen
    finally:
        await consumer.stop()


async def test_a_bank_reads_its_own_feed_that_notifications_wrote(kafka: str) -> None:
    marker = f"feed-{uuid.uuid4().hex}".encode()
    await produce(kafka, "notifications", PartnerTopics.feed(BANK), marker)

    seen = await read(kafka, bank_principal(BANK), PartnerTopics.feed(BANK), f"partner.{BANK}.{uuid.uuid4().hex[:6]}", until=marker)

    assert marker in seen


@pytest.mark.parametrize("topic", [PartnerTopics.feed(OTHER_BANK), Topics.APPLICATIONS, "__consumer_offsets"])
async def test_a_bank_cannot_read_another_banks_feed_nor_an_internal_topic(kafka: str, topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await read(kafka, bank_principal(BANK), topic, f"partner.{BANK}.{uuid.uuid4().hex[:6]}")


async def test_a_bank_reads_its_feed_only_under_its_own_group_prefix(kafka: str) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await read(kafka, bank_principal(BANK), PartnerTopics.feed(BANK), f"partner.{OTHER_BANK}.{uuid.uuid4().hex[:6]}")


async def test_a_bank_writes_its_own_incoming_topics_and_not_another_banks_nor_the_shared_ones(kafka: str) -> None:
    await produce(kafka, bank_principal(BANK), PartnerTopics.decisions(BANK), b"{}")
    await produce(kafka, bank_principal(BANK), PartnerTopics.payments(BANK), b"{}")

    for topic in (PartnerTopics.decisions(OTHER_BANK), PartnerTopics.payments(OTHER_BANK), PartnerTopics.feed(BANK), Topics.LOANS):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(kafka, bank_principal(BANK), topic, b"{}")


async def test_a_service_writes_its_own_stream_and_not_another_services(kafka: str) -> None:
    await produce(kafka, "servicing", Topics.LOANS, b"{}")

    for topic in (Topics.ALERTS, Topics.DIRECTORY, PartnerTopics.feed(BANK)):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(kafka, "servicing", topic, b"{}")


async def test_the_services_reading_every_banks_incoming_topics_cannot_read_a_banks_feed(kafka: str) -> None:
    for service in ("assessment", "servicing"):
        consumer = AIOKafkaConsumer(PartnerTopics.feed(BANK), **kafka_client(kafka, service), auto_offset_reset="earliest")
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                await consumer.start()
                await consumer.getmany(timeout_ms=5000)
        finally:
            await consumer.stop()


def test_kafkas_console_consumer_reads_a_banks_feed_with_the_banks_client_properties(kafka: str, tmp_path: Path) -> None:
    marker = f"console-{uuid.uuid4().hex}"
    partition, offset = asyncio.run(produce(kafka, "notifications", PartnerTopics.feed(BANK), marker.encode()))
    # What the bank is handed (.local/kafka/partners/<bank>.properties): the README's partner quick-start.
    properties = tmp_path / f"{BANK}.properties"
    properties.write_text(kafka_login(kafka, bank_principal(BANK)).java_properties(kafka))

    done = subprocess.run(
        [
            sys.executable, "-m", "deploy.local.kafka_tools", "console-consumer", "--bootstrap-server", kafka,
            "--command-config", str(properties), "--topic", PartnerTopics.feed(BANK),
            "--partition", str(partition), "--offset", str(offset), "--max-messages", "1", "--timeout-ms", "30000",
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90, check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [marker], (done.stdout, done.stderr)
