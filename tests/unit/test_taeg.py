"""TAEG by the actuarial method of directive 2008/48/EC annex I, checked against independent computations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.loanmath import (
    ScheduledInstalment,
    add_months,
    amortisation_schedule,
    effective_annual_rate,
    schedule_cash_flows,
    taeg_of_loan,
    year_fraction,
)

pytestmark = pytest.mark.unit

HALF_QUANTUM = Decimal("0.0000005")  # the returned TAEG is rounded to 1e-6, so it is off by at most this


def monthly_equivalent(nominal: Decimal) -> Decimal:
    """(1 + r/12)^12 − 1: the exact TAEG of an unrounded annuity paid on whole months, no fees."""
    with localcontext() as context:
        context.prec = 40
        return (1 + nominal / 12) ** 12 - 1


def exact_annuity(principal_cents: int, nominal: Decimal, months: int) -> Decimal:
    """The constant instalment before rounding to the cent."""
    with localcontext() as context:
        context.prec = 40
        if nominal == 0:
            return Decimal(principal_cents) / months
        rate = nominal / 12
        factor = (1 + rate) ** months
        return Decimal(principal_cents) * rate * factor / (factor - 1)


def monthly_npv(principal_cents: int, instalments: Sequence[int], rate: Decimal) -> Decimal:
    """Principal − Σ instalment_l (1+X)^(−l/12), the instalments falling on whole months after drawdown."""
    with localcontext() as context:
        context.prec = 40
        return Decimal(principal_cents) - sum(
            (Decimal(cents) * (1 + rate) ** (-Decimal(n) / 12) for n, cents in enumerate(instalments, 1)),
            Decimal(0),
        )


def monthly_slope(instalments: Sequence[int], rate: Decimal) -> Decimal:
    """|d NPV / dX| = Σ (l/12) D_l (1+X)^(−l/12 − 1); it shrinks as X grows."""
    with localcontext() as context:
        context.prec = 40
        return sum(
            (Decimal(n) / 12 * cents * (1 + rate) ** (-Decimal(n) / 12 - 1) for n, cents in enumerate(instalments, 1)),
            Decimal(0),
        )


def cent_rounding_tolerance(
    principal_cents: int, nominal: Decimal, schedule: Sequence[ScheduledInstalment], taeg: Decimal
) -> Decimal:
    """How far cent rounding can move the TAEG away from (1 + r/12)^12 − 1.

    The exact annuity A solves the equation at X_e = (1 + r/12)^12 − 1. The real instalments D_l differ from A
    by δ_l (rounding, last line absorbing the drift), so at X_e the real NPV is at most Σ|δ_l| (discount
    factors ≤ 1). The NPV's slope falls as X rises, so by the mean value theorem the real root is within
    Σ|δ_l| / slope(max(X_e, X) + 1e-6) of X_e; the returned figure adds its own half-quantum of rounding.
    """
    instalments = [line.instalment_cents for line in schedule]
    annuity = exact_annuity(principal_cents, nominal, len(schedule))
    drift = sum((abs(cents - annuity) for cents in instalments), Decimal(0))
    slope = monthly_slope(instalments, max(monthly_equivalent(nominal), taeg) + Decimal("0.000001"))
    return drift / slope + HALF_QUANTUM


def test_a_3000_euro_loan_at_3_5_percent_over_36_months_costs_3_5565_percent_a_year() -> None:
    principal, nominal = 300_000, Decimal("0.035")
    schedule = amortisation_schedule(principal, nominal, 36, date(2026, 4, 5))

    taeg = taeg_of_loan(principal, nominal, 36, date(2026, 3, 5), date(2026, 4, 5))

    # (1 + 0.035/12)^12 − 1 = 0.0355670; the instalments rounded to 87.91 € (last one 87.84 €) move it a little.
    closed_form = monthly_equivalent(nominal)
    assert abs(taeg - closed_form) <= cent_rounding_tolerance(principal, nominal, schedule, taeg)
    assert taeg == Decimal("0.035565")


def test_the_directive_example_1000_euros_repaid_1200_euros_after_18_months_is_12_92_percent() -> None:
    flows = [(date(2025, 1, 15), 100_000), (date(2026, 7, 15), -120_000)]

    taeg = effective_annual_rate(flows)

    # 1,000 = 1,200 / (1 + X)^1.5, so X = 1.2^(2/3) − 1 = 0.1292432…
    with localcontext() as context:
        context.prec = 40
        expected = Decimal("1.2") ** (Decimal(2) / 3) - 1
    assert taeg == expected.quantize(Decimal("0.000001"))
    assert (taeg * 100).quantize(Decimal("0.01")) == Decimal("12.92")


def test_1000_euros_repaid_in_12_monthly_instalments_of_100_euros_is_41_30_percent() -> None:
    drawdown = date(2025, 1, 15)
    flows = [(drawdown, 100_000), *((add_months(drawdown, n), -10_000) for n in range(1, 13))]

    taeg = effective_annual_rate(flows)

    # The equation itself, evaluated independently at the returned rate, balances to under half a cent.
    assert abs(monthly_npv(100_000, [10_000] * 12, taeg)) < Decimal("0.5")
    assert taeg == Decimal("0.412999")


def test_two_drawdowns_solve_the_same_equation_as_a_quadratic() -> None:
    # 500 € now and 500 € a year later, 1,100 € repaid after two years: 500 + 500 v = 1,100 v², v = 1/(1+X).
    flows = [(date(2025, 3, 1), 50_000), (date(2026, 3, 1), 50_000), (date(2027, 3, 1), -110_000)]

    with localcontext() as context:
        context.prec = 40
        v = (500 + (Decimal(500) ** 2 + 4 * 1_100 * 500).sqrt()) / (2 * 1_100)
        expected = 1 / v - 1
    assert effective_annual_rate(flows) == expected.quantize(Decimal("0.000001"))


@pytest.mark.parametrize(
    ("start", "end", "years"),
    [
        (date(2025, 1, 15), date(2026, 7, 15), Decimal(18) / 12),
        # Not a whole number of months: whole months counted back from the end, the rest in days / 365.
        (date(2026, 1, 15), date(2026, 3, 20), Decimal(2) / 12 + Decimal(5) / 365),
        # The leftover days run 15 → 20 January 2025; the year counted back from the 20th holds 29 February 2024.
        (date(2025, 1, 15), date(2025, 3, 20), Decimal(2) / 12 + Decimal(5) / 366),
        (date(2024, 3, 10), date(2024, 5, 20), Decimal(2) / 12 + Decimal(10) / 366),
        # Due dates clamped to the end of a short month are still whole months from a 30th or 31st.
        (date(2026, 1, 31), date(2026, 2, 28), Decimal(1) / 12),
        (date(2025, 1, 30), date(2025, 2, 28), Decimal(1) / 12),
        (date(2026, 1, 31), date(2026, 3, 1), Decimal(1) / 12 + Decimal(1) / 365),
        (date(2026, 2, 28), date(2026, 3, 30), Decimal(1) / 12),
        (date(2026, 3, 5), date(2026, 3, 5), Decimal(0)),
    ],
)
def test_time_is_whole_months_of_one_twelfth_of_a_year_then_days(start: date, end: date, years: Decimal) -> None:
    assert year_fraction(start, end) == years


def test_an_interest_free_loan_has_a_zero_taeg() -> None:
    assert taeg_of_loan(100_000, Decimal("0"), 6, date(2026, 1, 10), date(2026, 2, 10)) == 0
    assert effective_annual_rate([(date(2026, 1, 10), 100_000), (date(2027, 1, 10), -100_000)]) == 0


def test_the_real_dates_count_a_longer_first_period_with_one_month_of_interest_costs_less_a_year() -> None:
    # The schedule charges one month of interest whatever the first period's length; the TAEG sees the days.
    regular = taeg_of_loan(300_000, Decimal("0.035"), 36, date(2026, 3, 5), date(2026, 4, 5))
    long_first_period = taeg_of_loan(300_000, Decimal("0.035"), 36, date(2026, 3, 5), date(2026, 4, 25))

    assert long_first_period < regular


def test_schedule_cash_flows_are_the_principal_received_then_each_instalment_paid() -> None:
    schedule = amortisation_schedule(120_000, Decimal("0.05"), 6, date(2026, 2, 10))

    flows = schedule_cash_flows(120_000, date(2026, 1, 10), schedule)

    assert flows[0] == (date(2026, 1, 10), 120_000)
    assert flows[1:] == [(line.due_date, -line.instalment_cents) for line in schedule]


@pytest.mark.parametrize(
    "flows",
    [
        [],
        [(date(2026, 1, 1), -10_000)],
        [(date(2026, 1, 1), 10_000)],
        # Sign error: the borrower pays back less than received.
        [(date(2026, 1, 1), 10_000), (date(2026, 2, 1), -9_000)],
        # A repayment before any money was lent.
        [(date(2025, 12, 1), -5_000), (date(2026, 1, 1), 10_000), (date(2026, 2, 1), -6_000)],
    ],
    ids=["no flow", "no drawdown", "no repayment", "repays less than lent", "repays before the drawdown"],
)
def test_flows_that_are_not_a_loan_are_refused(flows: list[tuple[date, int]]) -> None:
    with pytest.raises(ValueError):
        effective_annual_rate(flows)


RATES = st.integers(0, 200_000).map(lambda n: Decimal(n).scaleb(-6))  # 0 % to 20 %, six decimals like the contract


@settings(max_examples=200, deadline=None)
@given(
    principal_cents=st.integers(300_00, 8_000_00),
    nominal=RATES,
    months=st.integers(6, 84),
    first_due_date=st.dates(date(2025, 1, 1), date(2030, 12, 31)),
)
def test_any_microcredit_has_a_taeg_at_least_its_nominal_rate_that_balances_its_flows(
    principal_cents: int, nominal: Decimal, months: int, first_due_date: date
) -> None:
    disbursed_on = add_months(first_due_date, -1)
    schedule = amortisation_schedule(principal_cents, nominal, months, first_due_date)
    instalments = [line.instalment_cents for line in schedule]

    taeg = taeg_of_loan(principal_cents, nominal, months, disbursed_on, first_due_date)

    tolerance = cent_rounding_tolerance(principal_cents, nominal, schedule, taeg)
    # (1 + r/12)^12 − 1 ≥ r, so only cent rounding can take the TAEG below the nominal rate.
    assert taeg >= nominal - tolerance
    assert abs(taeg - monthly_equivalent(nominal)) <= tolerance
    # At the returned rate the flows balance up to its 1e-6 rounding (NPV moves by slope × 5e-7): about a cent.
    residual = abs(monthly_npv(principal_cents, instalments, taeg))
    assert residual <= monthly_slope(instalments, taeg) * HALF_QUANTUM * Decimal("1.001") + Decimal("1e-9")
    assert residual < Decimal(2)
