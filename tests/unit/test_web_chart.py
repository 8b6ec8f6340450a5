"""The loan's chart: a column per instalment, what was paid drawn inside it, the unpaid ones marked."""

from __future__ import annotations

from datetime import date

import pytest

from services.web.charts import AXIS, HEIGHT, loan_chart
from services.web.labels import euros

pytestmark = pytest.mark.unit


def _line(number: int, due: str, amount: int, paid: int = 0, missed_on: str | None = None) -> dict[str, object]:
    return {"number": number, "due_date": due, "amount_cents": amount, "paid_cents": paid, "missed_on": missed_on}


def test_a_paid_a_missed_and_a_coming_instalment() -> None:
    schedule = [
        _line(2, "2026-12-30", 8_791, missed_on="2026-12-30"),
        _line(1, "2026-11-30", 8_791, paid=8_791),
        _line(3, "2027-01-30", 8_800),
    ]

    chart = loan_chart(schedule, date(2027, 1, 5), euros)

    paid, missed, coming = chart.bars
    assert [b.label for b in chart.bars] == ["1", "2", "3"]
    assert paid.paid_height == paid.due_height and not paid.missed
    assert missed.paid_height == 0 and missed.missed
    assert coming.due_height == HEIGHT - AXIS and coming.paid_height == 0 and not coming.missed
    assert chart.summary == "3 échéances : 87,91 € payés sur 263,82 €, reste 175,91 € ; 1 échéance impayée."


def test_an_instalment_past_its_date_and_unpaid_is_shown_unpaid_before_the_close_of_business_says_so() -> None:
    chart = loan_chart([_line(1, "2026-11-30", 10_000, paid=4_000)], date(2026, 12, 2), euros)

    [bar] = chart.bars
    assert bar.missed and bar.paid_height == pytest.approx(bar.due_height * 0.4, abs=0.1)
    assert chart.summary.endswith("1 échéance impayée.")
