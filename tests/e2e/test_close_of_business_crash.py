"""A close of business killed half-way (SIGKILL after its first chunk) is finished by the next run, nothing doubled."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.servicing.domain import loan_id_for
from shared.events import LoanApproved, PaymentMissed, Topics, new_event, parse_event
from shared.events import LoanApprovedData
from tests.support.infra import kafka_client
from tests.e2e.conftest import RunningPlatform, eventually
from tests.support import tokens

pytestmark = pytest.mark.e2e

LOANS = 5
CHUNK = 2  # 5 loans: chunks of 2, 2 and 1; the process dies after the first


def approval(first_due: date) -> LoanApproved:
    """Crédit Mutuel Nord lends 1,500 € at 2.5 % over 24 months to a borrower Restos du Cœur follows."""
    application_id = uuid4()
    return new_event(
        LoanApproved,
        source="/services/assessment",
        subject=str(application_id),
        time=datetime.now(UTC),
        data=LoanApprovedData(
            association_id="restos-du-coeur",
            region="grand-est",
            counsellor_id="c-muller",
            application_id=application_id,
            bank_id="credit-mutuel-nord",
            amount_cents=150_000,
            annual_rate=Decimal("0.025"),
            duration_months=24,
            first_due_date=first_due,
        ),
    )


async def missed_on_kafka(bootstrap: str, loans: set[UUID]) -> tuple[list[PaymentMissed], dict[int, int]]:
    """Every `payment missed` record of `loans` on the loans topic, from the beginning, and the last one's offset per partition."""
    consumer = AIOKafkaConsumer(**kafka_client(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - as the resilience tests do
        partitions = [TopicPartition(Topics.LOANS, p) for p in sorted(consumer.partitions_for_topic(Topics.LOANS) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[PaymentMissed] = []
        last: dict[int, int] = {}
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    if b"payment.missed" in record.value:
                        event = parse_event(record.value)
                        if isinstance(event, PaymentMissed) and event.data.loan_id in loans:
                            found.append(event)
                            last[record.partition] = record.offset
        return found, last
    finally:
        await consumer.stop()


async def test_a_close_of_business_killed_after_a_chunk_finishes_on_the_next_run_without_doubling(
    platform: RunningPlatform, db: asyncpg.Connection
) -> None:
    servicing = platform.restart("servicing", FAILPOINTS="cob_after_chunk:1", COB_CHUNK_SIZE=str(CHUNK))
    await asyncio.to_thread(servicing.wait_ready)
    first_due = date.today() + timedelta(days=3)
    business_date = first_due + timedelta(days=31)  # two instalments due and unpaid on each loan
    approvals = [approval(first_due) for _ in range(LOANS)]
    for event in approvals:
        await platform.produce(Topics.APPLICATIONS, event.subject.encode(), event.to_bytes(), [("content-type", b"application/cloudevents+json")])
    loans = {loan_id_for(e.data.application_id) for e in approvals}

    async def opened() -> bool:
        return await db.fetchval("select count(*) from servicing.loans where id = any($1::uuid[])", list(loans)) == LOANS

    await eventually(opened, what="servicing to open the loans")
    cob = {"business_date": business_date.isoformat()}
    async with httpx.AsyncClient(timeout=30) as client:
        for loan_id in loans:
            disbursed = await client.post(
                f"{servicing.url}/loans/{loan_id}/disbursement",
                json={"disbursed_on": date.today().isoformat(), "payee": "Auto-école du Centre, Metz"},
                headers=await platform.bearer(tokens.bank()),
            )
            assert disbursed.status_code == 200, disbursed.text

        with pytest.raises(httpx.HTTPError):  # the process dies under the request
            await client.post(f"{servicing.url}/close-of-business", json=cob, headers=await platform.bearer(tokens.ops()))
        killed = servicing

        async def died() -> bool:
            return killed.pid() is None

        await eventually(died, what="servicing to die at the failpoint")
        assert await db.fetchval("select count(*) from servicing.missed_instalments where loan_id = any($1::uuid[])", list(loans)) == 2 * CHUNK
        run = await db.fetchrow("select chunks, finished_at from servicing.cob_runs where business_date = $1", business_date)
        assert (run["chunks"], run["finished_at"]) == (1, None)

        servicing = platform.restart("servicing")
        await asyncio.to_thread(servicing.wait_ready)
        resumed = (await client.post(f"{servicing.url}/close-of-business", json=cob, headers=await platform.bearer(tokens.ops()))).json()
        repeated = (await client.post(f"{servicing.url}/close-of-business", json=cob, headers=await platform.bearer(tokens.ops()))).json()

    assert (resumed["resumed"], resumed["missed_instalments"], resumed["stage_changes"]) == (True, 2 * (LOANS - CHUNK), LOANS - CHUNK)
    assert (repeated["resumed"], repeated["missed_instalments"], repeated["stage_changes"]) == (False, 0, 0)
    recorded = await db.fetch(
        "select loan_id, number from servicing.missed_instalments where loan_id = any($1::uuid[])", list(loans)
    )
    expected = {(loan_id, n) for loan_id in loans for n in (1, 2)}
    assert sorted((r["loan_id"], r["number"]) for r in recorded) == sorted(expected)
    assert await db.fetchval(
        "select count(*) from servicing.instalments where loan_id = any($1::uuid[]) and missed_on = $2", list(loans), business_date
    ) == 2 * LOANS

    async def published() -> bool:
        return await db.fetchval("select count(*) from servicing.outbox") == 0

    await eventually(published, what="the outbox to be published")
    on_kafka, last = await missed_on_kafka(platform.kafka, loans)
    ids: dict[tuple[UUID, int], set[UUID]] = defaultdict(set)
    for event in on_kafka:
        ids[(event.data.loan_id, event.data.instalment_number)].add(event.id)
    assert set(ids) == expected
    assert all(len(event_ids) == 1 for event_ids in ids.values())  # never two events for one instalment
    # At-least-once on the wire: the relay killed between Kafka's ack and its delete publishes a chunk's rows again,
    # as the very same events; applied once all the same (a second instalment 2 would break the streak).
    by_id = {event.id: event for event in on_kafka}
    assert all(event == by_id[event.id] for event in on_kafka)

    for partition, offset in last.items():
        await platform.wait_committed_past("notifications", Topics.LOANS, partition, offset)
    followed = await db.fetch(
        "select last_missed_instalment, missed_streak from notifications.loan_followups where loan_id = any($1::uuid[])", list(loans)
    )
    assert [tuple(r) for r in followed] == [(2, 2)] * LOANS
