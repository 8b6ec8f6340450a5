"""Nothing lost, nothing applied twice: redelivery, a crash between commit and offset commit, poison messages."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import ApplicationSubmitted, LoanApproved, Topics, new_event
from shared.events import ApplicationSubmittedData, LoanApprovedData
from tests.support.infra import kafka_client
from tests.e2e.conftest import RunningPlatform, eventually

pytestmark = pytest.mark.e2e

OWNERSHIP = {"association_id": "restos-du-coeur", "region": "occitanie", "counsellor_id": "c-bernard"}


def loan_approved(amount_cents: int = 250_000, months: int = 24) -> LoanApproved:
    """A bank approval for a new application, as assessment would publish it."""
    application_id = uuid4()
    return new_event(
        LoanApproved,
        source="/services/assessment",
        subject=str(application_id),
        time=datetime.now(UTC),
        data=LoanApprovedData(
            **OWNERSHIP,
            application_id=application_id,
            bank_id="credit-municipal",
            amount_cents=amount_cents,
            annual_rate=Decimal("0.025"),
            duration_months=months,
            first_due_date=date.today() + timedelta(days=40),
        ),
    )


def application_submitted(application_id: UUID, owner: dict[str, str] = OWNERSHIP) -> ApplicationSubmitted:
    """An application as intake would publish it: Mélanie Fontaine, 1,800 € over 18 months for a training course."""
    return new_event(
        ApplicationSubmitted,
        source="/services/intake",
        subject=str(application_id),
        time=datetime.now(UTC),
        data=ApplicationSubmittedData(
            **owner,
            application_id=application_id,
            applicant_name="Mélanie Fontaine",
            purpose="training",
            amount_cents=180_000,
            duration_months=18,
            monthly_resources_cents=98_000,
            monthly_charges_cents=61_000,
        ),
    )


async def loan_rows(db: asyncpg.Connection, application_id: UUID) -> tuple[int, int]:
    """(loans, instalments) servicing holds for an application."""
    loans = await db.fetchval("select count(*) from servicing.loans where application_id = $1", application_id)
    instalments = await db.fetchval(
        "select count(*) from servicing.instalments i join servicing.loans l on l.id = i.loan_id"
        " where l.application_id = $1",
        application_id,
    )
    return loans, instalments


async def test_the_same_event_delivered_twice_changes_the_state_once(platform: RunningPlatform, db: asyncpg.Connection) -> None:
    event = loan_approved(months=24)
    key = event.subject.encode()
    await platform.produce(Topics.APPLICATIONS, key, event.to_bytes())
    partition, offset = await platform.produce(Topics.APPLICATIONS, key, event.to_bytes())

    await platform.wait_committed_past("servicing", Topics.APPLICATIONS, partition, offset)

    assert await loan_rows(db, event.data.application_id) == (1, 24)
    applied = await db.fetchval("select count(*) from servicing.inbox where event_id = $1", event.id)
    assert applied == 1


async def test_a_consumer_killed_after_its_commit_and_before_its_offset_commit_loses_nothing_and_doubles_nothing(
    platform: RunningPlatform, db: asyncpg.Connection
) -> None:
    servicing = platform.restart("servicing", FAILPOINTS=f"after_commit:{LoanApproved.event_type()}")
    await asyncio.to_thread(servicing.wait_ready)
    first, behind = loan_approved(months=12), loan_approved(months=18)
    partition, offset = await platform.produce(Topics.APPLICATIONS, first.subject.encode(), first.to_bytes())

    async def died() -> bool:
        return servicing.pid() is None

    await eventually(died, what="servicing to be killed by the failpoint")
    # The database transaction committed, the Kafka offset did not: the record will come again.
    assert await loan_rows(db, first.data.application_id) == (1, 12)
    assert await platform.committed_offset("servicing", Topics.APPLICATIONS, partition) <= offset
    behind_partition, behind_offset = await platform.produce(Topics.APPLICATIONS, behind.subject.encode(), behind.to_bytes())

    restarted = platform.restart("servicing")
    await asyncio.to_thread(restarted.wait_ready)
    await platform.wait_committed_past("servicing", Topics.APPLICATIONS, partition, offset)
    await platform.wait_committed_past("servicing", Topics.APPLICATIONS, behind_partition, behind_offset)

    assert await loan_rows(db, first.data.application_id) == (1, 12)
    assert await loan_rows(db, behind.data.application_id) == (1, 18)
    assert await db.fetchval("select count(*) from servicing.inbox where event_id = $1", first.id) == 1


async def dead_letters(platform: RunningPlatform) -> list[dict[str, str]]:
    """Headers of every record on the dead-letter topic."""
    consumer = AIOKafkaConsumer(**kafka_client(platform.kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(Topics.DEAD_LETTER, p) for p in consumer.partitions_for_topic(Topics.DEAD_LETTER) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [{k: v.decode() for k, v in r.headers} | {"value": r.value.decode(errors="replace")} for r in records]
        return found
    finally:
        await consumer.stop()


async def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_partition_keeps_flowing(
    platform: RunningPlatform, db: asyncpg.Connection
) -> None:
    application_id = uuid4()
    key = str(application_id).encode()
    poison_partition, poison_offset = await platform.produce(Topics.APPLICATIONS, key, b'{"specversion": "1.0", "type": ')
    invalid = application_submitted(application_id).model_dump(mode="json")
    invalid["data"]["amount_cents"] = -5
    invalid["id"] = str(uuid4())
    _, invalid_offset = await platform.produce(Topics.APPLICATIONS, key, json.dumps(invalid).encode())
    valid = application_submitted(application_id)
    valid_partition, valid_offset = await platform.produce(Topics.APPLICATIONS, key, valid.to_bytes())
    assert valid_partition == poison_partition  # same key, same partition: the poison sits in front

    async def assessed() -> bool:
        return bool(await db.fetchval("select count(*) from assessment.assessments where application_id = $1", application_id))

    await eventually(assessed, what="the valid application behind the poison to be assessed")

    async def dead_lettered() -> list[dict[str, str]]:
        return [
            h for h in await dead_letters(platform)
            if h.get("dlq-consumer-group") == "assessment" and h.get("dlq-original-partition") == str(poison_partition)
            and h.get("dlq-original-offset") in (str(poison_offset), str(invalid_offset))
        ]

    records = await eventually(dead_lettered, what="the poison messages on the dead-letter topic")
    by_offset = {int(h["dlq-original-offset"]): h for h in records}
    assert set(by_offset) == {poison_offset, invalid_offset}
    assert by_offset[poison_offset]["dlq-original-topic"] == Topics.APPLICATIONS
    assert by_offset[poison_offset]["dlq-reason"].startswith("invalid envelope")
    assert by_offset[poison_offset]["value"] == '{"specversion": "1.0", "type": '  # the original bytes are kept
    assert "data.amount_cents" in by_offset[invalid_offset]["dlq-reason"]
    await platform.wait_committed_past("assessment", Topics.APPLICATIONS, valid_partition, valid_offset)
