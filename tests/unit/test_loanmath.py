"""Loan arithmetic: constant instalments, schedules that repay exactly, due dates clamped to month end."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.loanmath import ScheduledInstalment, add_months, amortisation_schedule, monthly_instalment

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("principal_cents", "rate", "months", "expected"),
    [
        # 3,000 € at 3 % over 36 months: 750 × 1.0025^36 / (1.0025^36 − 1) = 87.244 → 87.24 €.
        (300_000, "0.03", 36, 8_724),
        # The same car at the 3.5 % diagnostic rate: 87.91 €.
        (300_000, "0.035", 36, 8_791),
        # 1,200 € at 5 % over 6 months: 500 × 1.0041667^6 / (1.0041667^6 − 1) = 202.926 → 202.93 €.
        (120_000, "0.05", 6, 20_293),
        # Without interest the amount is divided evenly: 1,000 € / 6 = 166.666… → 166.67 €.
        (100_000, "0", 6, 16_667),
        # 300 € over 84 months at 0 %: 3.571… → 3.57 €.
        (30_000, "0", 84, 357),
    ],
)
def test_the_monthly_instalment_is_the_constant_annuity_rounded_to_the_cent(
    principal_cents: int, rate: str, months: int, expected: int
) -> None:
    assert monthly_instalment(principal_cents, Decimal(rate), months) == expected


@pytest.mark.parametrize(
    ("principal_cents", "rate", "months"),
    [(-1, "0.03", 36), (300_000, "0.03", 0), (300_000, "-0.01", 36)],
    ids=["negative amount", "no month", "negative rate"],
)
def test_an_impossible_loan_is_refused(principal_cents: int, rate: str, months: int) -> None:
    with pytest.raises(ValueError):
        monthly_instalment(principal_cents, Decimal(rate), months)


def test_a_3000_euro_loan_at_3_percent_starts_with_7_50_euros_of_interest_and_ends_on_the_36th_month() -> None:
    schedule = amortisation_schedule(300_000, Decimal("0.03"), 36, date(2026, 4, 5))

    assert len(schedule) == 36
    # Month 1: 3,000 € × 0.25 % = 7.50 € interest, so 87.24 − 7.50 = 79.74 € of principal.
    assert schedule[0] == ScheduledInstalment(1, date(2026, 4, 5), 7_974, 750, 8_724, 292_026)
    # Month 2: 2,920.26 € × 0.25 % = 7.30 € interest.
    assert schedule[1] == ScheduledInstalment(2, date(2026, 5, 5), 7_994, 730, 8_724, 284_032)
    assert schedule[-1].due_date == date(2029, 3, 5)


def test_the_last_instalment_absorbs_the_rounding() -> None:
    schedule = amortisation_schedule(300_000, Decimal("0.03"), 36, date(2026, 4, 5))

    assert {line.instalment_cents for line in schedule[:-1]} == {8_724}
    # What is left before the last month (87.16 €) is repaid whole, with its 0.22 € of interest.
    assert schedule[-1] == ScheduledInstalment(36, date(2029, 3, 5), 8_716, 22, 8_738, 0)
    assert sum(line.principal_cents for line in schedule) == 300_000


def test_a_short_loan_at_5_percent_computed_by_hand() -> None:
    schedule = amortisation_schedule(120_000, Decimal("0.05"), 6, date(2026, 2, 10))

    # Interest is balance × 5 %/12, rounded; principal is 202.93 € − interest; the last line closes the loan.
    assert [(s.interest_cents, s.principal_cents, s.remaining_principal_cents) for s in schedule] == [
        (500, 19_793, 100_207),
        (418, 19_875, 80_332),
        (335, 19_958, 60_374),
        (252, 20_041, 40_333),
        (168, 20_125, 20_208),
        (84, 20_208, 0),
    ]
    assert schedule[-1].instalment_cents == 20_292


def test_an_interest_free_loan_splits_evenly_with_the_remainder_on_the_last_line() -> None:
    schedule = amortisation_schedule(100_000, Decimal("0"), 6, date(2026, 2, 10))

    assert [line.principal_cents for line in schedule] == [16_667] * 5 + [16_665]
    assert all(line.interest_cents == 0 for line in schedule)
    assert [line.remaining_principal_cents for line in schedule] == [83_333, 66_666, 49_999, 33_332, 16_665, 0]


def test_due_dates_on_the_31st_fall_on_the_last_day_of_shorter_months() -> None:
    schedule = amortisation_schedule(120_000, Decimal("0.05"), 6, date(2026, 1, 31))

    assert [line.due_date for line in schedule] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
    ]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 11, 30), 2, date(2027, 1, 30)),  # across the new year
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 3, 5), 0, date(2026, 3, 5)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_it_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_adding_months_can_return_to_the_31st_after_a_short_month() -> None:
    assert add_months(date(2026, 2, 28), 1, day=31) == date(2026, 3, 31)


RATES = st.integers(0, 200_000).map(lambda n: Decimal(n).scaleb(-6))  # 0 % to 20 %, six decimals like the contract


@settings(max_examples=300)
@given(
    principal_cents=st.integers(300_00, 8_000_00),
    rate=RATES,
    months=st.integers(6, 84),
    first_due_date=st.dates(date(2025, 1, 1), date(2030, 12, 31)),
)
def test_any_microcredit_schedule_repays_exactly_the_amount_lent(
    principal_cents: int, rate: Decimal, months: int, first_due_date: date
) -> None:
    schedule = amortisation_schedule(principal_cents, rate, months, first_due_date)

    assert [line.number for line in schedule] == list(range(1, months + 1))
    assert sum(line.principal_cents for line in schedule) == principal_cents
    remaining = [line.remaining_principal_cents for line in schedule]
    assert all(r >= 0 for r in remaining)
    assert all(earlier > later for earlier, later in zip([principal_cents, *remaining], remaining))
    assert remaining[-1] == 0
    assert all(line.instalment_cents == line.principal_cents + line.interest_cents for line in schedule)
    assert all(earlier.due_date < later.due_date for earlier, later in zip(schedule, schedule[1:]))
