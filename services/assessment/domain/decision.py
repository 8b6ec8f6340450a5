"""The partner bank's decision on a routed file, and the overdue timer (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.assessment.domain.assessment import SOURCE, Assessment, Change, Status, require_status
from services.assessment.domain.checks import LoanTerms, usury_check
from services.assessment.domain.terms import AmountCents, AnnualRate, DurationMonths
from shared.auth import Actor
from shared.clock import business_day
from shared.errors import BusinessRuleError
from shared.events import BankDecisionOverdue, LoanApproved, LoanDeclined, new_event
from shared.events import BankDecisionOverdueData, LoanApprovedData, LoanDeclinedData
from shared.fields import Day, FreeText
from shared.money import canonical_decimal, round_cents
from shared.usury import UsuryTable

# The Fonds de cohésion sociale guarantees half of every personal microcredit.
FCS_GUARANTEE_SHARE = Decimal("0.5")


class NotRoutedToBank(BusinessRuleError):
    """A decision from a bank the file is not routed to: to that bank the file does not exist."""

    def __init__(self, bank_id: str) -> None:
        super().__init__(f"no file routed to {bank_id} with this id", field="application_id", rule="routed_bank", status=404)


class BankDecisionTerms(BaseModel):
    """A partner bank's decision: approve with the final terms, or decline with a reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Literal["approve", "decline"]
    amount_cents: AmountCents | None = Field(None, validate_default=True, description="Approve: final amount.")
    annual_rate: AnnualRate | None = Field(None, validate_default=True, description="Approve: final nominal annual rate.")
    duration_months: DurationMonths | None = Field(None, validate_default=True)
    first_due_date: Day | None = Field(None, validate_default=True)
    reason: FreeText | None = Field(None, min_length=1, max_length=2000, validate_default=True, description="Decline: why.")

    @field_validator("amount_cents", "annual_rate", "duration_months", "first_due_date", "reason")
    @classmethod
    def _complete(cls, value: object, info: ValidationInfo) -> object:
        decision = info.data.get("decision")
        needed = info.field_name != "reason" if decision == "approve" else info.field_name == "reason"
        if value is None and decision is not None and needed:
            raise ValueError(f"{info.field_name} is required to {decision}")
        return value


def _is_repeat(a: Assessment, bank_id: str, terms: BankDecisionTerms) -> bool:
    """True when the file already holds exactly this decision from this bank (sent again, not a new decision)."""
    if a.bank_id != bank_id or a.decision != terms.decision:
        return False
    if terms.decision == "decline":
        return a.decision_reason == terms.reason
    return (a.approved_amount_cents, a.approved_annual_rate, a.approved_duration_months, a.first_due_date) == (
        terms.amount_cents, terms.annual_rate, terms.duration_months, terms.first_due_date
    )


def record_bank_decision(
    a: Assessment, bank_id: str, terms: BankDecisionTerms, usury: UsuryTable, actor: Actor, now: datetime, *, channel: str
) -> Change | None:
    """The routed bank approves (a loan guaranteed at 50 % by the FCS) or declines, once per file.

    The same decision sent again changes nothing (None), whichever channel carries it; another decision
    after the bank decided is refused (409).
    """
    if a.routed_at is None or a.bank_id != bank_id:
        raise NotRoutedToBank(bank_id)
    if _is_repeat(a, bank_id, terms):
        return None
    if a.status in (Status.APPROVED, Status.DECLINED):
        raise BusinessRuleError(
            f"the bank already decided on this file ({a.decision})", field="decision", rule="already_decided"
        )
    require_status(a, {Status.ROUTED}, field="decision", doing="decide")
    common: dict[str, Any] = {
        "decided_by": actor.subject, "decided_at": now, "decision": terms.decision, "decision_reason": terms.reason
    }
    if terms.decision == "decline":
        declined = a.model_copy(update={**common, "status": Status.DECLINED})
        event = new_event(
            LoanDeclined, source=SOURCE, subject=str(a.application_id), time=now,
            data=LoanDeclinedData(
                **a.ownership(), application_id=a.application_id, bank_id=bank_id, reason=terms.reason or ""
            ),
        )
        entry = declined.audit(actor, "loan_declined", now, bank_id=bank_id, reason=terms.reason, channel=channel)
        return Change(declined, (event,), (entry,))
    assert terms.amount_cents and terms.annual_rate is not None and terms.duration_months and terms.first_due_date
    if terms.first_due_date <= business_day(now):
        raise BusinessRuleError(
            "the first due date must be in the future", field="first_due_date", rule="future_date", status=422
        )
    usury = usury_check(LoanTerms(terms.amount_cents, terms.duration_months, terms.annual_rate), usury, business_day(now))
    if not usury.passed:
        raise BusinessRuleError(
            f"the approved terms are usurious: {usury.reason}", field="annual_rate", rule="usury_cap", status=422
        )
    guaranteed = round_cents(terms.amount_cents * FCS_GUARANTEE_SHARE)
    approved = a.model_copy(update={
        **common, "status": Status.APPROVED, "approved_amount_cents": terms.amount_cents,
        "approved_annual_rate": terms.annual_rate, "approved_duration_months": terms.duration_months,
        "first_due_date": terms.first_due_date,
        "guarantee_share": FCS_GUARANTEE_SHARE, "guaranteed_amount_cents": guaranteed,
    })
    event = new_event(
        LoanApproved, source=SOURCE, subject=str(a.application_id), time=now,
        data=LoanApprovedData(
            **a.ownership(), application_id=a.application_id, bank_id=bank_id, amount_cents=terms.amount_cents,
            annual_rate=terms.annual_rate, duration_months=terms.duration_months, first_due_date=terms.first_due_date,
            guarantee_share=FCS_GUARANTEE_SHARE,
        ),
    )
    entry = approved.audit(
        actor, "loan_approved", now, bank_id=bank_id, channel=channel, amount_cents=terms.amount_cents,
        annual_rate=canonical_decimal(terms.annual_rate), duration_months=terms.duration_months,
        first_due_date=terms.first_due_date.isoformat(),
        guarantee_share=canonical_decimal(FCS_GUARANTEE_SHARE), guaranteed_amount_cents=guaranteed,
    )
    return Change(approved, (event,), (entry,))


def raise_overdue(a: Assessment, now: datetime, after: timedelta, actor: Actor) -> Change | None:
    """`bank decision overdue`, once, for a file routed `after` ago or more without a decision; else None."""
    if a.status is not Status.ROUTED or a.overdue_raised_at is not None or a.routed_at is None or a.bank_id is None:
        return None
    waited = now - a.routed_at
    if waited < after:
        return None
    overdue = a.model_copy(update={"overdue_raised_at": now})
    event = new_event(
        BankDecisionOverdue, source=SOURCE, subject=str(a.application_id), time=now,
        data=BankDecisionOverdueData(**a.ownership(), application_id=a.application_id, bank_id=a.bank_id,
                                     routed_on=a.routed_at.date(), days_waiting=waited.days),
    )
    entry = overdue.audit(actor, "bank_decision_overdue", now, bank_id=a.bank_id, days_waiting=waited.days)
    return Change(overdue, (event,), (entry,))
