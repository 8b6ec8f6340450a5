"""Events that arrive before what they refer to wait parked, on the real broker: applied when the missing piece
arrives, in order per key, or dead-lettered with the reason once the stated delay has passed — never at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import pytest

from services.servicing.domain import loan_id_for
from shared.events import BankPayment
from tests.integration.conftest import TODAY, RunningService, loan_approved, run_service
from tests.integration.test_dead_letters import BANK, GROUP, OPS, bank_payment, eventually, listed, payments, processed, produce_event

pytestmark = pytest.mark.integration

DELAY = 3600  # seconds a parked payment waits for its loan (the service's consumer_park_max_seconds)


@pytest.fixture
async def servicing(kafka: str, database: str) -> AsyncIterator[RunningService]:
    """Servicing on the real broker, retrying its parked events every 200 ms, waiting an hour before giving up."""
    async with run_service(
        "servicing", database, kafka=kafka, consumer_park_max_seconds=DELAY, consumer_park_retry_seconds=0.2
    ) as service:
        yield service


async def parked(service: RunningService, key: object) -> list[str]:
    """The reasons of the events parked for `key`, oldest first."""
    rows = await service.fetch("select reason from parked_events where consumer = $1 and key = $2 order by id", GROUP, str(key))
    return [r["reason"] for r in rows]


async def test_payments_that_come_before_their_loan_wait_and_apply_in_order_once_it_is_opened_and_disbursed(
    servicing: RunningService, kafka: str
) -> None:
    application_id = uuid4()
    loan_id = loan_id_for(application_id)
    first, second = bank_payment(loan_id, "VIR-0001"), bank_payment(loan_id, "VIR-0002")
    await produce_event(kafka, first)
    behind = await produce_event(kafka, second)
    await processed(kafka, behind)  # the partition flowed past both

    assert await parked(servicing, loan_id) == [
        f"no loan {loan_id} yet: its approval has not arrived",
        "behind an earlier parked event of the same key",
    ]
    assert (await servicing.http.get("/operations/dead-letters", params={"reason": str(loan_id)},
                                     headers=OPS)).json() == []

    await produce_event(kafka, loan_approved(application_id))
    await eventually(lambda: _opened(servicing, loan_id), "the loan to be opened")
    # Opened, not disbursed yet: still too early.
    await eventually(lambda: _first_reason_is(servicing, loan_id, "not disbursed yet"), "the payment to wait for the disbursement")
    assert await payments(servicing, loan_id) == []

    disbursed = await servicing.http.post(
        f"/loans/{loan_id}/disbursement", json={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}, headers=BANK
    )
    assert disbursed.status_code == 200, disbursed.text

    async def both_applied() -> list[str]:
        found = [p["bank_reference"] for p in await payments(servicing, loan_id)]
        return found if len(found) == 2 else []

    assert sorted(await eventually(both_applied, "both payments to be applied")) == ["VIR-0001", "VIR-0002"]
    assert await parked(servicing, loan_id) == []
    assert len(await servicing.fetch("select 1 from inbox where event_id = any($1::uuid[])", [first.id, second.id])) == 2


async def test_a_payment_whose_loan_never_comes_is_dead_lettered_only_once_the_delay_has_passed(
    servicing: RunningService, kafka: str
) -> None:
    never_opened = uuid4()
    where = await produce_event(kafka, bank_payment(never_opened))
    await processed(kafka, where)
    assert await parked(servicing, never_opened) == [f"no loan {never_opened} yet: its approval has not arrived"]

    servicing.clock.advance(timedelta(seconds=DELAY - 1))
    await eventually(lambda: _retried(servicing, never_opened), "a retry of the parked payment")
    assert await parked(servicing, never_opened) != []  # still waiting: the delay has not passed

    servicing.clock.advance(timedelta(seconds=1))
    dead = await listed(servicing, where, reason=str(never_opened))

    assert dead["reason"] == (
        f"too early for {BankPayment.event_type()}, parked longer than {DELAY} s: no loan {never_opened} yet: its approval has not arrived"
    )
    assert await parked(servicing, never_opened) == []


async def _opened(service: RunningService, loan_id: object) -> bool:
    return (await service.http.get(f"/loans/{loan_id}", headers=BANK)).status_code == 200


async def _first_reason_is(service: RunningService, loan_id: object, words: str) -> bool:
    reasons = await parked(service, loan_id)
    return bool(reasons) and words in reasons[0]


async def _retried(service: RunningService, key: object) -> bool:
    rows = await service.fetch("select attempts from parked_events where consumer = $1 and key = $2", GROUP, str(key))
    return bool(rows) and rows[0]["attempts"] >= 2
