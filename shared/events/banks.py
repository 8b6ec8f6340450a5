"""What partner banks write to their own incoming topics: decisions (key: application id) and payments (key: loan id).

The topic proves the sender: a bank writes only to its own two topics (the broker's ACLs), and an event whose
`bank_id` names another bank than the topic's is refused (`sender_refusal`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.common import Cents, Rate
from shared.events.envelope import Envelope, Payload
from shared.events.topics import PartnerTopics


class BankDecisionData(Payload):
    """A partner bank's decision on a file routed to it."""

    application_id: UUID
    bank_id: str
    decision: Literal["approve", "decline"]
    amount_cents: Cents | None = None
    annual_rate: Rate | None = None
    duration_months: int | None = Field(None, ge=1)
    first_due_date: date | None = None
    reason: str | None = None


class BankDecision(Envelope[BankDecisionData]):
    """`bank decision` v1, written by a partner bank to its decisions topic."""

    topic: ClassVar[str] = PartnerTopics.DECISIONS_ADDRESS
    type: Literal["fr.microcredit.bank.decision.v1"] = "fr.microcredit.bank.decision.v1"


class BankPaymentData(Payload):
    """A repayment (or the reversal of one) as the partner bank reports it."""

    loan_id: UUID
    bank_id: str
    bank_reference: str = Field(description="The bank's own reference: the same reference twice is recorded once.")
    kind: Literal["payment", "reversal"] = "payment"
    amount_cents: Cents
    received_on: date
    reversed_reference: str | None = Field(None, description="Reversal: the reference of the payment it reverses.")
    reason: str | None = None


class BankPayment(Envelope[BankPaymentData]):
    """`bank payment` v1, written by a partner bank to its payments topic."""

    topic: ClassVar[str] = PartnerTopics.PAYMENTS_ADDRESS
    type: Literal["fr.microcredit.bank.payment.v1"] = "fr.microcredit.bank.payment.v1"


def incoming_topic(event: BankDecision | BankPayment) -> str:
    """The topic the bank the event names writes it to."""
    bank_id = event.data.bank_id
    return PartnerTopics.decisions(bank_id) if isinstance(event, BankDecision) else PartnerTopics.payments(bank_id)


def sender_refusal(topic: str, event: Envelope[Any]) -> str | None:
    """Why a bank's event may not be applied as it came on `topic`: the payload names another bank (None: it does not)."""
    try:
        sender = PartnerTopics.bank_of(topic)
    except ValueError:
        return f"{topic} is not a partner bank's incoming topic"
    named = getattr(event.data, "bank_id", None)
    if named != sender:
        return (
            f"bank_id: the payload names bank {named!r} but came on the topic of bank {sender!r} ({topic}); "
            "a bank writes in its own name only"
        )
    return None
