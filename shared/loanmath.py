"""Loan arithmetic (constant instalments on the declining balance), shared by assessment and servicing.

Pure functions on integer cents and Decimal rates: no I/O, no floats.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal(1)


def _round_cents(amount: Decimal) -> int:
    return int(amount.quantize(_CENT, rounding=ROUND_HALF_UP))


def monthly_rate(annual_rate: Decimal) -> Decimal:
    """Periodic rate of a monthly schedule: the nominal annual rate divided by 12."""
    return annual_rate / 12


def monthly_instalment(principal_cents: int, annual_rate: Decimal, months: int) -> int:
    """Constant monthly instalment, rounded to the cent (half up); a zero rate divides evenly."""
    if principal_cents < 0 or months < 1 or annual_rate < 0:
        raise ValueError("principal must be ≥ 0, months ≥ 1 and the rate ≥ 0")
    rate = monthly_rate(annual_rate)
    if rate == 0:
        return _round_cents(Decimal(principal_cents) / months)
    factor = (1 + rate) ** months
    return _round_cents(Decimal(principal_cents) * rate * factor / (factor - 1))


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
        interest = _round_cents(Decimal(balance) * rate)
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
