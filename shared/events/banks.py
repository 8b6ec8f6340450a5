"""What partner banks write to their reserved topics: decisions (key: application id) and payments (key: loan id)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.common import Cents, FileOwnership, Rate
from shared.events.envelope import Envelope, Payload
from shared.events.topics import Topics


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
    """`bank decision` v1, written by a partner bank to its reserved topic."""

    topic: ClassVar[str] = Topics.BANK_DECISIONS
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
    """`bank payment` v1, written by a partner bank to its reserved topic."""

    topic: ClassVar[str] = Topics.BANK_PAYMENTS
    type: Literal["fr.microcredit.bank.payment.v1"] = "fr.microcredit.bank.payment.v1"
