"""Instalments the close of business finds due and unpaid, and their `payment missed` event (pure)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from services.servicing.domain.loans import SOURCE
from shared.events import PaymentMissed, new_event
from shared.events.catalog import PaymentMissedData


class MissedInstalment(BaseModel):
    """An instalment the close of business found due and unpaid."""

    model_config = ConfigDict(frozen=True)

    loan_id: UUID
    application_id: UUID
    association_id: str
    region: str
    counsellor_id: str
    number: int
    due_date: date
    amount_cents: int
    amount_unpaid_cents: int


def payment_missed(missed: MissedInstalment, business_date: date, now: datetime) -> PaymentMissed:
    """The `payment missed` event of one instalment."""
    return new_event(
        PaymentMissed,
        source=SOURCE,
        subject=str(missed.loan_id),
        time=now,
        data=PaymentMissedData(
            association_id=missed.association_id,
            region=missed.region,
            counsellor_id=missed.counsellor_id,
            loan_id=missed.loan_id,
            application_id=missed.application_id,
            instalment_number=missed.number,
            due_date=missed.due_date,
            amount_due_cents=missed.amount_cents,
            amount_unpaid_cents=missed.amount_unpaid_cents,
            business_date=business_date,
        ),
    )
