"""Loan arithmetic (constant instalments on the declining balance), shared by assessment and servicing.

Pure functions on integer cents and Decimal rates: no I/O, no floats (but for the TAEG solver's first guess,
refined in Decimal).
"""

from __future__ import annotations

import calendar
import functools
import math
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
# Beyond it the flows are no credit (a sign or date error): refused. The search doubles from 100 % and
# stops before 10^12, so the last rate it tries is 2^39.
_MAX_RATE = 2**39


def _shift_back(end: date, months: int, drawdown_day: int) -> date:
    """`end` moved back `months` whole months, keeping the drawdown's day when `end` was clamped to month end."""
    is_month_end = end.day == calendar.monthrange(end.year, end.month)[1]
    # A due date on the last day of a short month stands for the drawdown's day (30th, 31st) that this
    # month lacks: French civil law ends a one-month period from the 31st on the last day of a shorter
    # month (code de procédure civile art. 641), and amortisation_schedule clamps due dates the same way.
    day = drawdown_day if is_month_end and drawdown_day > end.day else end.day
    return add_months(end, -months, day)


def _whole_months_and_days(start: date, end: date) -> tuple[int, int, int]:
    """(whole months counted back from `end`, leftover days, length of the year those days are divided by)."""
    if end < start:
        raise ValueError(f"{end} is before {start}")
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day == start.day:
        return months, 0, 0  # whole months exactly (most due dates: the drawdown's day of a later month)
    while months > 0 and _shift_back(end, months, start.day) < start:
        months -= 1
    anchor = _shift_back(end, months, start.day)
    days = (anchor - start).days  # first day excluded, last day included
    if days == 0:
        return months, 0, 0
    # Leftover days sit next to the drawdown (periods are counted backwards) and are divided by the length
    # of the year counted back from the last of them: 366 when that year holds a 29 February.
    return months, days, (anchor - add_months(anchor, -12)).days


def year_fraction(start: date, end: date) -> Decimal:
    """Years from `start` to `end` per annex I: whole months (1/12) counted back from `end`, then days."""
    months, days, year_length = _whole_months_and_days(start, end)
    if days == 0:
        return Decimal(months) / 12
    return Decimal(months) / 12 + Decimal(days) / year_length


@dataclass(frozen=True)
class _Flow:
    """One flow of the equation: `amount` cents at `months` / 12 + `days_part` years from the first drawdown."""

    months: int
    days_part: Decimal
    years: Decimal
    amount: Decimal


def _npv_and_slope(flows: Sequence[_Flow], rate: Decimal) -> tuple[Decimal, Decimal]:
    """Σ a (1+X)^(−t) and its derivative in X, for flows in order of their whole months.

    (1+X)^(−t) is v^months × (1+X)^(−days_part) with v = (1+X)^(−1/12): one `exp` for v, one per distinct
    days part, and otherwise products, where evaluating each factor as its own `exp` cost one per flow.
    """
    growth = 1 + rate
    log_growth = growth.ln()
    monthly = (-log_growth / 12).exp()
    power, at = Decimal(1), 0
    by_days_part: dict[Decimal, Decimal] = {}
    value = Decimal(0)
    weighted = Decimal(0)
    for flow in flows:
        if flow.months != at:
            power *= monthly ** (flow.months - at)
            at = flow.months
        factor = power
        if flow.days_part:
            if (part := by_days_part.get(flow.days_part)) is None:
                part = by_days_part[flow.days_part] = (-flow.days_part * log_growth).exp()
            factor *= part
        discounted = flow.amount * factor
        value += discounted
        weighted += flow.years * discounted
    return value, -weighted / growth


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
        flows = []
        for day, cents in cash_flows:
            if cents != 0:
                months, days, year_length = _whole_months_and_days(start, day)
                days_part = Decimal(days) / year_length if days else Decimal(0)
                flows.append(_Flow(months, days_part, Decimal(months) / 12 + days_part, Decimal(cents)))
        flows.sort(key=lambda flow: flow.months)
        rate = _solve_rate(flows)
    return rate.quantize(_TAEG_QUANTUM, rounding=ROUND_HALF_UP)


def _float_npv_and_slope(flows: Sequence[tuple[float, float]], rate: float) -> tuple[float, float]:
    """`_npv_and_slope` in binary floating point, for (years, amount) pairs: a first guess only."""
    log_growth = math.log1p(rate)
    value = slope = 0.0
    for years, amount in flows:
        discounted = amount * math.exp(-years * log_growth)
        value += discounted
        slope -= years * discounted
    return value, slope / (1 + rate)


def _first_guess(flows: Sequence[_Flow]) -> float:
    """The root in floats (about 15 exact digits, in microseconds): where the Decimal refinement starts.

    NPV(0) = drawn − repaid < 0 and NPV(X) → the drawdowns at t = 0 > 0 as X grows, so a root lies above 0.
    Newton's method from where the repayments, all at their weighted mean time, would balance the drawdowns,
    kept inside a sign-change bracket and bisecting (or doubling, before it has an upper end) when it strays.
    """
    pairs = [(float(flow.years), float(flow.amount)) for flow in flows]
    drawn = sum(amount for _, amount in pairs if amount > 0)
    repaid = -sum(amount for _, amount in pairs if amount < 0)
    mean_time = -sum(years * amount for years, amount in pairs if amount < 0) / repaid
    low, high = 0.0, math.inf
    rate = min(math.expm1(min(math.log(repaid / drawn) / mean_time, 28.0)), _MAX_RATE) if mean_time > 0 else 1.0
    for _ in range(_SOLVER_MAX_STEPS):
        value, slope = _float_npv_and_slope(pairs, rate)
        if value < 0:
            low = rate
        elif value > 0:
            high = rate
        else:
            return rate
        step = value / slope if slope != 0 else math.nan
        following = rate - step
        if not low < following < high:
            following = (low + high) / 2 if high < math.inf else max(2 * rate, 1.0)
        elif abs(step) <= 1e-8 * rate:
            return following  # Newton doubles the exact digits: this step lands at the float's own precision
        if following > _MAX_RATE:  # no upper end known yet
            if rate >= _MAX_RATE:
                raise ValueError("the effective rate is beyond 10^12 (repayments far too large or too early)")
            following = _MAX_RATE
        if following in (low, high):
            return following
        rate = following
    return rate


def _solve_rate(flows: Sequence[_Flow]) -> Decimal:
    """Root of the NPV in X ≥ 0: Newton's method in Decimal, kept inside a sign-change bracket, bisecting when it strays.

    When the drawdowns are all at the start (every loan's TAEG), the NPV rises with X: its one root is where
    any start converges, and the float root is the nearest (two steps, most often). Drawdowns later on can
    give it several roots: then the search starts where it always did, from the left end of the bracket
    found by doubling from 100 %, and so finds the same one.
    """
    if all(flow.years == 0 for flow in flows if flow.amount > 0):
        low, high, rate = Decimal(0), None, Decimal(_first_guess(flows))  # NPV(0) < 0; an upper end comes later
    else:
        low, high = Decimal(0), Decimal(1)
        while (at_high := _npv_and_slope(flows, high)[0]) < 0:
            low, high = high, high * 2
            if high > _MAX_RATE:
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
        following = rate - value / slope if slope != 0 else None
        if following is None or following <= low or (high is not None and following >= high):
            following = (low + high) / 2 if high is not None else max(2 * rate, Decimal(1))
        if abs(following - rate) < _SOLVER_TOLERANCE or (high is not None and high - low < _SOLVER_TOLERANCE):
            return following
        rate = following
    raise ValueError("the effective rate did not converge")  # not reached for credit flows: kept as a guard


def schedule_cash_flows(
    principal_cents: int, disbursed_on: date, schedule: Sequence[ScheduledInstalment]
) -> list[CashFlow]:
    """Borrower-side flows of a fee-free loan: + the principal on disbursement, − each instalment on its due date."""
    return [(disbursed_on, principal_cents), *((line.due_date, -line.instalment_cents) for line in schedule)]


@functools.lru_cache(maxsize=4096)
def taeg_of_loan(
    principal_cents: int, annual_rate: Decimal, months: int, disbursed_on: date, first_due_date: date
) -> Decimal:
    """TAEG of a fee-free constant-instalment loan, from its actual dates (a long first period raises it).

    Kept for the last 4,096 terms asked (a pure function of them): the usury check of every assessment of a day
    asks it for the same few amounts, rates and durations, at 0.2 ms each when solved again.
    """
    schedule = amortisation_schedule(principal_cents, annual_rate, months, first_due_date)
    return effective_annual_rate(schedule_cash_flows(principal_cents, disbursed_on, schedule))
