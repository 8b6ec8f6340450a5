"""Servicing domain: a loan from its approval, its schedule, payments and missed instalments (pure)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BusinessRuleError
from shared.events import LoanApproved, LoanDisbursed, PaymentMissed, PaymentReceived, new_event
from shared.events.catalog import LoanDisbursedData, PaymentMissedData, PaymentReceivedData
from shared.loanmath import ScheduledInstalment, amortisation_schedule
from shared.text import FreeText, Reference

SOURCE = "/services/servicing"
# Loan ids derive from the application id, so re-applying an approval can never create a second loan.
LOAN_ID_NAMESPACE = UUID("6f1c5c1e-8f55-4c53-9d0b-2f4d3f0a9a11")


class LoanStatus(StrEnum):
    """Life cycle of a loan."""

    PENDING_DISBURSEMENT = "pending_disbursement"
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


class Instalment(BaseModel):
    """One scheduled instalment and what has been paid of it."""

    model_config = ConfigDict(frozen=True)

    number: int
    due_date: date
    principal_cents: int
    interest_cents: int
    amount_cents: int
    remaining_principal_cents: int
    paid_cents: int = 0

    @property
    def unpaid_cents(self) -> int:
        """What is still owed on this instalment."""
        return self.amount_cents - self.paid_cents


class Loan(BaseModel):
    """A loan as servicing holds it."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    application_id: UUID
    association_id: str
    region: str
    counsellor_id: str
    bank_id: str
    amount_cents: int
    annual_rate: Decimal
    duration_months: int
    first_due_date: date
    guarantee_share: Decimal
    status: LoanStatus
    payee: str | None = None
    disbursed_on: date | None = None
    created_at: datetime
    instalment_day: int | None = None
    schedule_version: int = 1
    principal_outstanding_cents: int
    days_past_due: int = 0
    delinquency_stage: str = "current"
    arrears_cents: int = 0
    closed_on: date | None = None
    written_off_on: date | None = None

    def ownership(self) -> dict[str, str]:
        """The ownership fields every event of this loan carries."""
        return {"association_id": self.association_id, "region": self.region, "counsellor_id": self.counsellor_id}


def loan_id_for(application_id: UUID) -> UUID:
    """The id of the loan created from an application's approval."""
    return uuid5(LOAN_ID_NAMESPACE, str(application_id))


def open_loan(event: LoanApproved, now: datetime) -> tuple[Loan, list[ScheduledInstalment]]:
    """The loan and its schedule, from the bank's approval; it awaits disbursement."""
    d = event.data
    loan = Loan(
        id=loan_id_for(d.application_id),
        application_id=d.application_id,
        association_id=d.association_id,
        region=d.region,
        counsellor_id=d.counsellor_id,
        bank_id=d.bank_id,
        amount_cents=d.amount_cents,
        annual_rate=d.annual_rate,
        duration_months=d.duration_months,
        first_due_date=d.first_due_date,
        guarantee_share=d.guarantee_share,
        status=LoanStatus.PENDING_DISBURSEMENT,
        created_at=now,
        instalment_day=d.instalment_day,
        principal_outstanding_cents=d.amount_cents,
    )
    return loan, amortisation_schedule(d.amount_cents, d.annual_rate, d.duration_months, d.first_due_date)


class Disbursement(BaseModel):
    """The bank's confirmation that the funds went out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disbursed_on: date
    payee: FreeText = Field(min_length=1, max_length=200, description="`borrower` or the supplier paid (garage, school…).")


def disburse(loan: Loan, cmd: Disbursement, now: datetime) -> tuple[Loan, LoanDisbursed]:
    """Activate a loan once its funds are out."""
    if loan.status is not LoanStatus.PENDING_DISBURSEMENT:
        raise BusinessRuleError(f"the loan is {loan.status.value}, not pending disbursement", field="disbursed_on", rule="state")
    if cmd.disbursed_on > now.date():
        raise BusinessRuleError("a disbursement cannot be in the future", field="disbursed_on", rule="not_future", status=422)
    active = loan.model_copy(update={"status": LoanStatus.ACTIVE, "payee": cmd.payee, "disbursed_on": cmd.disbursed_on})
    event = new_event(
        LoanDisbursed,
        source=SOURCE,
        subject=str(loan.id),
        time=now,
        data=LoanDisbursedData(
            **loan.ownership(),
            loan_id=loan.id,
            application_id=loan.application_id,
            amount_cents=loan.amount_cents,
            disbursed_on=cmd.disbursed_on,
            payee=cmd.payee,
        ),
    )
    return active, event


BankReference = Reference


class NewPayment(BaseModel):
    """A repayment reported by the partner bank."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bank_reference: BankReference = Field(description="The bank's own reference: recorded once.")
    amount_cents: int = Field(gt=0, le=10_000_000)
    received_on: date


def allocate(instalments: list[Instalment], amount_cents: int) -> dict[int, int]:
    """Spread a payment over the oldest unpaid instalments first: instalment number → cents applied."""
    applied: dict[int, int] = {}
    left = amount_cents
    for inst in sorted(instalments, key=lambda i: i.number):
        if left == 0:
            break
        take = min(left, inst.unpaid_cents)
        if take:
            applied[inst.number] = take
            left -= take
    if left:
        raise BusinessRuleError(
            f"the payment exceeds what is owed by {left} cents", field="amount_cents", rule="not_more_than_owed", status=422
        )
    return applied


def receive_payment(loan: Loan, cmd: NewPayment, now: datetime) -> tuple[UUID, PaymentReceived]:
    """Check a payment may be recorded; return its id and event."""
    if loan.status is not LoanStatus.ACTIVE:
        raise BusinessRuleError(f"the loan is {loan.status.value}, not active", field="amount_cents", rule="state")
    payment_id = uuid4()
    event = new_event(
        PaymentReceived,
        source=SOURCE,
        subject=str(loan.id),
        time=now,
        data=PaymentReceivedData(
            **loan.ownership(),
            loan_id=loan.id,
            payment_id=payment_id,
            bank_reference=cmd.bank_reference,
            amount_cents=cmd.amount_cents,
            received_on=cmd.received_on,
        ),
    )
    return payment_id, event


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
