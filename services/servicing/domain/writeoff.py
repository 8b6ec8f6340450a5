"""Write-off of a loan too long past due, with the Fonds de cohésion sociale guarantee claim (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from services.servicing.domain.loans import Instalment, Loan, LoanStatus, loan_event
from shared.errors import BusinessRuleError
from shared.events import LoanWrittenOff
from shared.events import LoanWrittenOffData
from shared.money import round_cents


def write_off(
    loan: Loan, instalments: Sequence[Instalment], business_date: date, *, now: datetime | None = None
) -> tuple[Loan, LoanWrittenOff]:
    """Write an active loan off on `business_date`; the claim covers the guaranteed share of the unpaid principal.

    The principal outstanding is recomputed from the instalments (principal scheduled − principal paid),
    the source of truth, rather than trusted from the loan's summary column; the claim is rounded half
    up to the cent.
    `now` stamps the event (default: midnight UTC of the business date).
    """
    if loan.status is not LoanStatus.ACTIVE:
        raise BusinessRuleError(f"the loan is {loan.status.value}, not active", field="status", rule="state")
    outstanding = sum(i.principal_cents - i.principal_paid_cents for i in instalments)
    claim = round_cents(loan.guarantee_share * outstanding)
    written_off = loan.model_copy(
        update={"status": LoanStatus.WRITTEN_OFF, "written_off_on": business_date, "principal_outstanding_cents": outstanding}
    )
    event = loan_event(
        LoanWrittenOff,
        loan,
        now or datetime.combine(business_date, time(), UTC),
        LoanWrittenOffData(
            **loan.ownership(),
            loan_id=loan.id,
            application_id=loan.application_id,
            principal_outstanding_cents=outstanding,
            days_past_due=loan.days_past_due,
            guarantee_share=loan.guarantee_share,
            guarantee_claim_cents=claim,
            business_date=business_date,
        ),
    )
    return written_off, event
