"""The new schedule version an adjustment makes: a pause, a term extension, a lower instalment (pure).

How the new version is built, whatever the kind:
- lines with anything paid are kept as they were paid (a partly paid line is cut down to what it
  received), so every recorded payment still finds the lines it paid and a reversal stays exact;
- everything else still owed is re-planned from the next instalment date after the answer: the principal
  outstanding — arrears included — is amortised again over the new number of months at the loan's rate,
  so the adjustment itself never changes the principal outstanding;
- interest that was owed but could not be capitalised without changing that principal — the unpaid
  interest of instalments already due (the arrears) and, for a pause with interest, the interest of the
  paused months — is spread evenly over the new instalments (the last absorbing the rounding);
- new lines are numbered after every line the loan ever had: an instalment number is never reused, so
  a missed instalment of the old version keeps its record and the new line can still be found missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.servicing.domain.ledger import in_order, principal_outstanding
from services.servicing.domain.loans import Instalment, Loan, LoanStatus, as_instalments, dated_schedule
from services.servicing.domain.payments import Cents
from shared.errors import BusinessRuleError
from shared.events import AdjustmentTerms
from shared.fields import WHOLE_NUMBER, Flag
from shared.loanmath import add_months, monthly_instalment, monthly_rate
from shared.money import round_cents

MAX_PAUSE_MONTHS = 12
# The product's longest term: a rescheduled loan never has more instalments ahead than a new loan could.
MAX_REMAINING_INSTALMENTS = 84
Months = Annotated[int, Field(ge=1, le=MAX_REMAINING_INSTALMENTS), WHOLE_NUMBER]


class Terms(BaseModel):
    """What the counsellor asks for; which fields each kind takes is checked by `check_terms`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pause", "extension", "lower_instalment"]
    months: Months | None = Field(None, description="Pause: instalments skipped; extension: months added.")
    with_interest: Flag | None = Field(None, description="Pause: does interest run during the pause? (required for a pause)")
    instalment_cents: Cents | None = Field(None, description="Lower instalment: the target instalment.")

    def contract(self) -> AdjustmentTerms:
        """The terms as the events carry them."""
        return AdjustmentTerms(**self.model_dump())


class Plan(BaseModel):
    """The schedule an adjustment makes: the lines kept, the new ones, and what they come to."""

    model_config = ConfigDict(frozen=True)

    kept: tuple[Instalment, ...]
    new: tuple[Instalment, ...]
    deferred_interest_cents: int = Field(description="Arrears interest and paused interest spread over the new lines.")

    @property
    def instalments(self) -> tuple[Instalment, ...]:
        """The whole new version, oldest first."""
        return tuple(in_order([*self.kept, *self.new]))


class Preview(BaseModel):
    """What an adjustment would come to if it were accepted today."""

    instalment_cents: int
    remaining_instalments: int
    next_due_date: date
    last_due_date: date
    deferred_interest_cents: int
    principal_outstanding_cents: int


def _invalid(field: str, rule: str, detail: str) -> BusinessRuleError:
    return BusinessRuleError(detail, field=f"terms.{field}", rule=rule, status=422)


def check_terms(terms: Terms) -> None:
    """Each kind takes its own fields, and only those."""
    needed = {"pause": {"months", "with_interest"}, "extension": {"months"}, "lower_instalment": {"instalment_cents"}}[terms.kind]
    for field in ("months", "with_interest", "instalment_cents"):
        given = getattr(terms, field) is not None
        if field in needed and not given:
            raise _invalid(field, "required_for_kind", f"a {terms.kind} needs `{field}`")
        if field not in needed and given:
            raise _invalid(field, "not_for_kind", f"a {terms.kind} does not take `{field}`")
    if terms.kind == "pause" and terms.months is not None and terms.months > MAX_PAUSE_MONTHS:
        raise _invalid("months", "pause_too_long", f"a pause is at most {MAX_PAUSE_MONTHS} instalments")


def next_due_date(after: date, day: int) -> date:
    """The first date on `day` of a month (clamped to its end) strictly after `after`."""
    candidate = add_months(after, 0, day)
    return candidate if candidate > after else add_months(after, 1, day)


def _months_for_target(principal: int, rate: Decimal, deferred: int, target: int, current: int) -> int:
    """The fewest months whose regular instalment is at most `target`."""
    interest = round_cents(principal * monthly_rate(rate))
    if target <= interest:
        raise _invalid(
            "instalment_cents", "below_monthly_interest",
            f"{target} cents a month do not cover the monthly interest of {interest} cents: the loan would never be repaid",
        )
    for months in range(1, MAX_REMAINING_INSTALMENTS + 1):
        if monthly_instalment(principal, rate, months) + deferred // months <= target:
            if months <= current:
                raise _invalid(
                    "instalment_cents", "not_lower",
                    f"{target} cents are already reached over the {current} instalments left: ask for less than the current instalment",
                )
            return months
    raise _invalid(
        "instalment_cents", "term_too_long",
        f"{target} cents a month would take more than {MAX_REMAINING_INSTALMENTS} instalments",
    )


def plan(loan: Loan, instalments: Sequence[Instalment], terms: Terms, today: date) -> Plan:
    """The schedule `terms` make from the loan's state on `today` (see the module's rules)."""
    check_terms(terms)
    if loan.status is not LoanStatus.ACTIVE:
        raise BusinessRuleError(f"the loan is {loan.status.value}, not active", field="terms", rule="state")
    principal = principal_outstanding(instalments)
    if principal == 0:
        raise BusinessRuleError("no principal is left to reschedule", field="terms", rule="nothing_outstanding")
    open_lines = [i for i in instalments if i.unpaid_cents]
    deferred = sum(i.interest_unpaid_cents for i in open_lines if i.due_date <= today)
    months_left = sum(1 for i in open_lines if i.due_date > today)
    kept = [
        i if not i.unpaid_cents else i.model_copy(
            update={"interest_cents": i.interest_paid_cents, "principal_cents": i.principal_paid_cents, "amount_cents": i.paid_cents}
        )
        for i in instalments
        if i.paid_cents or not i.unpaid_cents
    ]
    day = loan.due_day
    first = max(next_due_date(today, day), loan.first_due_date)
    if terms.kind == "pause":
        assert terms.months is not None
        if terms.with_interest:
            deferred += round_cents(principal * monthly_rate(loan.annual_rate) * terms.months)
        first = add_months(first, terms.months, day)
        months = max(months_left, 1)
    elif terms.kind == "extension":
        assert terms.months is not None
        months = months_left + terms.months
        if months > MAX_REMAINING_INSTALMENTS:
            raise _invalid("months", "term_too_long", f"{months} instalments left would exceed {MAX_REMAINING_INSTALMENTS}")
    else:
        assert terms.instalment_cents is not None
        months = _months_for_target(principal, loan.annual_rate, deferred, terms.instalment_cents, months_left)
    new = as_instalments(
        dated_schedule(principal, loan.annual_rate, months, first, day),
        first_number=max(i.number for i in instalments) + 1,
    )
    new = [
        line.model_copy(update={"interest_cents": line.interest_cents + extra, "amount_cents": line.amount_cents + extra})
        for line, extra in zip(new, _spread(deferred, months), strict=True)
    ]
    kept, new = _with_remaining(loan.amount_cents, kept, new)
    return Plan(kept=tuple(kept), new=tuple(new), deferred_interest_cents=deferred)


def _spread(cents: int, parts: int) -> list[int]:
    """`cents` in `parts` even shares, the last absorbing the rounding."""
    share = cents // parts
    return [share] * (parts - 1) + [cents - share * (parts - 1)]


def _with_remaining(
    amount: int, kept: list[Instalment], new: list[Instalment]
) -> tuple[list[Instalment], list[Instalment]]:
    """Both parts of the new version, with the principal left after each line recounted oldest first."""
    left = amount
    remaining: dict[int, int] = {}
    for line in in_order([*kept, *new]):
        left -= line.principal_cents
        remaining[line.number] = left
    kept_, new_ = (
        [i.model_copy(update={"remaining_principal_cents": remaining[i.number]}) for i in lines] for lines in (kept, new)
    )
    return kept_, new_


def preview(plan_: Plan) -> Preview:
    """The figures a counsellor and a bank look at."""
    return Preview(
        instalment_cents=plan_.new[0].amount_cents,
        remaining_instalments=len(plan_.new),
        next_due_date=plan_.new[0].due_date,
        last_due_date=plan_.new[-1].due_date,
        deferred_interest_cents=plan_.deferred_interest_cents,
        principal_outstanding_cents=sum(n.principal_cents for n in plan_.new),
    )
