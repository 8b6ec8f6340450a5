"""Loan arithmetic (constant instalments on the declining balance), shared by assessment and servicing.

Pure functions on integer cents and Decimal rates: no I/O, no floats.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from shared.money import round_cents


def monthly_rate(annual_rate: Decimal) -> Decimal:
    """Periodic rate of a monthly schedule: the nominal annual rate divided by 12."""
    return annual_rate / 12


def monthly_instalment(principal_cents: int, annual_rate: Decimal, months: int) -> int:
    """Constant monthly instalment, rounded to the cent (half up); a zero rate divides evenly."""
    if principal_cents < 0 or months < 1 or annual_rate < 0:
        raise ValueError("principal must be ≥ 0, months ≥ 1 and the rate ≥ 0")
    rate = monthly_rate(annual_rate)
    if rate == 0:
        return round_cents(Decimal(principal_cents) / months)
    factor = (1 + rate) ** months
    return round_cents(Decimal(principal_cents) * rate * factor / (factor - 1))


def add_months(start: date, months: int, day: int | None = None) -> date:
    """`start` moved by `months`, on `day` of the month (default start's day), clamped to month end."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    wanted = day or start.day
    return date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ScheduledInstalment:
    """One line of an amortisation schedule, all amounts in cents."""

    number: int
    due_date: date
    principal_cents: int
    interest_cents: int
    instalment_cents: int
    remaining_principal_cents: int


def amortisation_schedule(
    principal_cents: int, annual_rate: Decimal, months: int, first_due_date: date
) -> list[ScheduledInstalment]:
    """Constant-instalment schedule; the last instalment absorbs rounding so principal parts sum exactly."""
    instalment = monthly_instalment(principal_cents, annual_rate, months)
    rate = monthly_rate(annual_rate)
    balance = principal_cents
    lines: list[ScheduledInstalment] = []
    for number in range(1, months + 1):
        interest = round_cents(Decimal(balance) * rate)
        principal = balance if number == months else min(balance, instalment - interest)
        balance -= principal
        lines.append(
            ScheduledInstalment(
                number=number,
                due_date=add_months(first_due_date, number - 1, first_due_date.day),
                principal_cents=principal,
                interest_cents=interest,
                instalment_cents=principal + interest,
                remaining_principal_cents=balance,
            )
        )
    return lines


# --- TAEG (taux annuel effectif global) -----------------------------------------------------------
#
# Cash flows are signed from the borrower's side: + what the borrower receives (drawdowns, i.e. what
# the lender pays out), − what the borrower pays (instalments and every cost counted in the TAEG).
# The TAEG is the X ≥ 0 solving Σ C_k (1+X)^(−t_k) = Σ D_l (1+X)^(−s_l) (directive 2008/48/EC annex I,
# Code de la consommation R.314-3), times in years from the first drawdown.

CashFlow = tuple[date, int]

_TAEG_QUANTUM = Decimal("0.000001")  # a fraction: 0.0001 % — annex I asks for at least one decimal in %
_SOLVER_PRECISION = 40  # ≥ 28 digits; the extra ones keep Newton's last steps and the residual meaningful
_SOLVER_TOLERANCE = Decimal("1e-24")
_SOLVER_MAX_STEPS = 400


def _shift_back(end: date, months: int, drawdown_day: int) -> date:
    """`end` moved back `months` whole months, keeping the drawdown's day when `end` was clamped to month end."""
    is_month_end = end.day == calendar.monthrange(end.year, end.month)[1]
    # A due date on the last day of a short month stands for the drawdown's day (30th, 31st) that this
    # month lacks: French civil law ends a one-month period from the 31st on the last day of a shorter
    # month (code de procédure civile art. 641), and amortisation_schedule clamps due dates the same way.
    day = drawdown_day if is_month_end and drawdown_day > end.day else end.day
    return add_months(end, -months, day)


def year_fraction(start: date, end: date) -> Decimal:
    """Years from `start` to `end` per annex I: whole months (1/12) counted back from `end`, then days."""
    if end < start:
        raise ValueError(f"{end} is before {start}")
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and _shift_back(end, months, start.day) < start:
        months -= 1
    anchor = _shift_back(end, months, start.day)
    days = (anchor - start).days  # first day excluded, last day included
    if days == 0:
        return Decimal(months) / 12
    # Leftover days sit next to the drawdown (periods are counted backwards) and are divided by the length
    # of the year counted back from the last of them: 366 when that year holds a 29 February.
    year_length = (anchor - add_months(anchor, -12)).days
    return Decimal(months) / 12 + Decimal(days) / year_length


def _npv_and_slope(flows: Sequence[tuple[Decimal, Decimal]], rate: Decimal) -> tuple[Decimal, Decimal]:
    """Σ a (1+X)^(−t) and its derivative in X, for (years, signed amount) pairs."""
    log_growth = (1 + rate).ln()
    value = Decimal(0)
    slope = Decimal(0)
    for years, amount in flows:
        discounted = amount * (-years * log_growth).exp()
        value += discounted
        slope -= years * discounted / (1 + rate)
    return value, slope


def effective_annual_rate(cash_flows: Sequence[CashFlow]) -> Decimal:
    """The TAEG of signed (date, cents) flows (+ drawdown, − repayment) as a fraction quantized to 1e-6, half up."""
    drawn = sum(cents for _, cents in cash_flows if cents > 0)
    repaid = -sum(cents for _, cents in cash_flows if cents < 0)
    if drawn == 0:
        raise ValueError("no drawdown: at least one flow must be positive (money the borrower receives)")
    if repaid == 0:
        raise ValueError("no repayment: at least one flow must be negative (money the borrower pays)")
    if repaid < drawn:
        # The equation would only have a negative root: not a credit at a cost, so most likely a sign error.
        raise ValueError(f"repayments ({repaid} cents) are less than the drawdowns ({drawn} cents)")
    start = min(day for day, cents in cash_flows if cents > 0)
    if any(day < start for day, cents in cash_flows if cents != 0):
        raise ValueError(f"a repayment is dated before the first drawdown ({start})")
    if repaid == drawn:
        return Decimal(0).quantize(_TAEG_QUANTUM)  # nothing paid beyond what was received: the root is 0
    with localcontext() as context:
        context.prec = _SOLVER_PRECISION
        flows = [(year_fraction(start, day), Decimal(cents)) for day, cents in cash_flows if cents != 0]
        rate = _solve_rate(flows)
    return rate.quantize(_TAEG_QUANTUM, rounding=ROUND_HALF_UP)


def _solve_rate(flows: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """Root of the NPV in X ≥ 0: Newton's method, kept inside a sign-change bracket, bisecting when it strays."""
    # NPV(0) = drawn − repaid < 0 and NPV(X) → the drawdowns at t = 0 > 0 as X grows, so a root lies above 0.
    low, high = Decimal(0), Decimal(1)
    while (at_high := _npv_and_slope(flows, high)[0]) < 0:
        low, high = high, high * 2
        if high > Decimal(10) ** 12:
            raise ValueError("the effective rate is beyond 10^12 (repayments far too large or too early)")
    if at_high == 0:
        return high
    # From the left end Newton's first step is the linearised rate; for a single drawdown the NPV is concave
    # and increasing, so the steps climb to the root without overshooting it.
    rate = low
    for _ in range(_SOLVER_MAX_STEPS):
        value, slope = _npv_and_slope(flows, rate)
        if value == 0:
            return rate
        if value < 0:
            low = rate
        else:
            high = rate
        step_ok = slope != 0 and low < rate - value / slope < high
        following = rate - value / slope if step_ok else (low + high) / 2
        if abs(following - rate) < _SOLVER_TOLERANCE or high - low < _SOLVER_TOLERANCE:
            return following
        rate = following
    raise ValueError("the effective rate did not converge")  # not reached for credit flows: kept as a guard


def schedule_cash_flows(
    principal_cents: int, disbursed_on: date, schedule: Sequence[ScheduledInstalment]
) -> list[CashFlow]:
    """Borrower-side flows of a fee-free loan: + the principal on disbursement, − each instalment on its due date."""
    return [(disbursed_on, principal_cents), *((line.due_date, -line.instalment_cents) for line in schedule)]


def taeg_of_loan(
    principal_cents: int, annual_rate: Decimal, months: int, disbursed_on: date, first_due_date: date
) -> Decimal:
    """TAEG of a fee-free constant-instalment loan, from its actual dates (a long first period raises it)."""
    schedule = amortisation_schedule(principal_cents, annual_rate, months, first_due_date)
    return effective_annual_rate(schedule_cash_flows(principal_cents, disbursed_on, schedule))
