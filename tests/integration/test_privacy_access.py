"""What one service answers the DPO about a person: the rows of its tables and of its plumbing that name the
file or its loan — a payment record that broke, dead-lettered, is part of it — and nothing about another file."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import pytest

from services.servicing.domain import loan_id_for
from shared.events import BankPayment, BankPaymentData, PartnerTopics, new_event
from tests.integration.conftest import NOW, TODAY, loan_approved, run_service
from tests.support import tokens

pytestmark = pytest.mark.integration


async def test_servicing_answers_with_the_loan_its_schedule_and_the_dead_letter_that_names_it(database: str) -> None:
    nadia, other = uuid4(), uuid4()
    async with run_service("servicing", database) as servicing:
        for file in (nadia, other):
            await servicing.deliver(loan_approved(file))
        loan = loan_id_for(nadia)
        # The bank's system wrote a payment servicing cannot read, keyed by Nadia's loan: dead-lettered.
        await servicing.deliver_raw(json.dumps({"loan_id": str(loan), "amount": "87,91"}).encode(),
                                    topic=PartnerTopics.payments("credit-mutuel-nord"), key=str(loan).encode())
        # And a payment for a loan servicing does not know yet waits, parked, under that loan's key.
        unknown = uuid4()
        await servicing.deliver(new_event(
            BankPayment, source="/banks/credit-mutuel-nord", subject=str(unknown), time=NOW,
            data=BankPaymentData(loan_id=unknown, bank_id="credit-mutuel-nord", bank_reference="VIR-0001", amount_cents=8_791, received_on=TODAY),
        ))
        for _ in range(100):
            if await servicing.fetch("select 1 from dead_letters") and await servicing.fetch("select 1 from parked_events"):
                break
            await asyncio.sleep(0.05)

        answer = await servicing.http.get(f"/v1/privacy/subjects/{nadia}", headers=tokens.bearer(tokens.dpo()))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    records = body["records"]
    assert (body["service"], body["subject_id"]) == ("servicing", str(nadia))
    assert [(row["id"], row["application_id"], row["amount_cents"]) for row in records["loans"]] == [(str(loan), str(nadia), 300_000)]
    assert len(records["instalments"]) == 36 and {row["loan_id"] for row in records["instalments"]} == {str(loan)}
    assert [(d["key"], d["value"]) for d in records["dead_letters"]] == [(str(loan), {"loan_id": str(loan), "amount": "87,91"})]
    assert records["parked_events"] == []  # the parked payment names another loan
    said = json.dumps(body)
    assert str(other) not in said and str(loan_id_for(other)) not in said and str(unknown) not in said
