"""What a bank reports and what servicing records of it: payments, reversals, and when a report is a repeat (pure)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BusinessRuleError
from shared.fields import WHOLE_NUMBER, Day, FreeText, Reference

PAYMENT_ID_NAMESPACE = UUID("1d5a8f0e-3b7c-4e2a-9f61-8c0d2e4b6a73")
BankReference = Reference
MAX_PAYMENT_CENTS = 10_000_000


Cents = Annotated[int, Field(gt=0, le=MAX_PAYMENT_CENTS), WHOLE_NUMBER]


def payment_id_for(loan_id: UUID, bank_reference: str) -> UUID:
    """A payment's id, from its loan and the bank's reference: a redelivered payment gets the same id."""
    return uuid5(PAYMENT_ID_NAMESPACE, f"{loan_id}/{bank_reference}")


class NewPayment(BaseModel):
    """A repayment reported by the partner bank."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bank_reference: BankReference = Field(description="The bank's own reference: recorded once.")
    amount_cents: Cents
    received_on: Day


class Reversal(BaseModel):
    """The bank reverses a payment after the fact (a direct debit rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: FreeText = Field(min_length=1, max_length=500, description="Why, e.g. `prélèvement rejeté : provision insuffisante`.")
    amount_cents: Cents | None = Field(None, description="The amount reversed, if the bank states it: it must be the payment's.")


class Allocation(BaseModel):
    """What one payment did to one instalment."""

    model_config = ConfigDict(frozen=True)

    number: int
    interest_cents: int = 0
    principal_cents: int = 0
    waived_interest_cents: int = Field(0, description="Interest not owed because the loan was repaid early.")


class Payment(BaseModel):
    """A recorded payment and where its money went (the `payments` row)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    loan_id: UUID
    bank_reference: str
    kind: Literal["payment"] = "payment"
    amount_cents: int
    received_on: date
    recorded_at: datetime
    interest_cents: int
    principal_cents: int
    overpaid_cents: int = Field(description="Beyond everything owed: to refund to the borrower.")
    allocations: tuple[Allocation, ...]
    reversed_at: datetime | None = None
    reversal_reason: str | None = None


def is_repeated_reversal(payment: Payment, cmd: Reversal) -> bool:
    """True if `payment` is already reversed: the reversal asked again has no second effect.

    A reversal stating another amount than the payment's is refused (it is not this payment's reversal).
    """
    if payment.reversed_at is not None:
        return True
    if cmd.amount_cents is not None and cmd.amount_cents != payment.amount_cents:
        raise BusinessRuleError(
            f"the reversal is of {cmd.amount_cents} cents, the payment of {payment.amount_cents}",
            field="amount_cents", rule="not_the_payment_amount", status=422,
        )
    return False
