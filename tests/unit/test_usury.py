"""Usury caps: dated configuration per amount band, read from TOML and validated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shared.usury import (
    BAND_3000_TO_6000,
    BAND_OVER_6000,
    BAND_UP_TO_3000,
    NoUsuryCapError,
    UsuryCap,
    UsuryTable,
    UsuryTableError,
    quarter_start,
)

pytestmark = pytest.mark.unit

Q2_2025, Q3_2025, Q4_2025, Q1_2026 = date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1), date(2026, 1, 1)


@pytest.fixture(scope="module")
def table() -> UsuryTable:
    """The table shipped with the code."""
    return UsuryTable.load()


def test_the_shipped_table_holds_the_published_figures_exactly(table: UsuryTable) -> None:
    bands = (BAND_UP_TO_3000, BAND_3000_TO_6000, BAND_OVER_6000)
    assert [(q.valid_from, *(getattr(q.rates_percent, band) for band in bands)) for q in table.quarter] == [
        (Q2_2025, Decimal("23.24"), Decimal("15.67"), Decimal("8.63")),
        (Q3_2025, Decimal("23.39"), Decimal("15.79"), Decimal("8.69")),
        (Q4_2025, Decimal("23.49"), Decimal("15.71"), Decimal("8.73")),
        (Q1_2026, Decimal("23.56"), Decimal("15.87"), Decimal("8.67")),
    ]


@pytest.mark.parametrize(
    ("amount_cents", "band", "rate"),
    [
        (300_00, BAND_UP_TO_3000, "0.2349"),
        (3_000_00, BAND_UP_TO_3000, "0.2349"),  # exactly 3,000.00 € is still the first band
        (3_000_01, BAND_3000_TO_6000, "0.1571"),
        (6_000_00, BAND_3000_TO_6000, "0.1571"),  # exactly 6,000.00 € is still the second band
        (6_000_01, BAND_OVER_6000, "0.0873"),
        (8_000_00, BAND_OVER_6000, "0.0873"),
    ],
)
def test_each_amount_falls_in_its_band_with_upper_limits_included(
    table: UsuryTable, amount_cents: int, band: str, rate: str
) -> None:
    assert table.cap_for(amount_cents, Q4_2025) == UsuryCap(band=band, rate=Decimal(rate), valid_from=Q4_2025)


@pytest.mark.parametrize(
    ("on", "valid_from", "rates"),
    [
        (Q2_2025, Q2_2025, ("0.2324", "0.1567", "0.0863")),
        (date(2025, 6, 30), Q2_2025, ("0.2324", "0.1567", "0.0863")),  # the last day before the next entry
        (Q3_2025, Q3_2025, ("0.2339", "0.1579", "0.0869")),
        (Q4_2025, Q4_2025, ("0.2349", "0.1571", "0.0873")),
        (date(2025, 12, 31), Q4_2025, ("0.2349", "0.1571", "0.0873")),
        (Q1_2026, Q1_2026, ("0.2356", "0.1587", "0.0867")),
        (date(2031, 6, 15), Q1_2026, ("0.2356", "0.1587", "0.0867")),  # after the last entry: it stays in force
    ],
)
def test_the_cap_is_the_one_in_force_on_the_day(
    table: UsuryTable, on: date, valid_from: date, rates: tuple[str, str, str]
) -> None:
    caps = [table.cap_for(amount, on) for amount in (2_000_00, 5_000_00, 7_000_00)]

    assert [cap.rate for cap in caps] == [Decimal(rate) for rate in rates]
    assert {cap.valid_from for cap in caps} == {valid_from}


def test_a_date_before_the_first_entry_has_no_cap(table: UsuryTable) -> None:
    with pytest.raises(NoUsuryCapError, match="2025-03-31"):
        table.cap_for(2_000_00, date(2025, 3, 31))
    assert issubclass(NoUsuryCapError, LookupError)


@pytest.mark.parametrize("amount_cents", [0, -100])
def test_a_non_positive_amount_is_refused(table: UsuryTable, amount_cents: int) -> None:
    with pytest.raises(ValueError):
        table.cap_for(amount_cents, Q4_2025)


def test_the_default_file_is_found_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert UsuryTable.load().cap_for(1_000_00, Q4_2025).rate == Decimal("0.2349")


def test_a_table_from_another_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "caps.toml"
    path.write_text(
        "[[quarter]]\nvalid_from = 2026-01-01\n"
        "rates_percent = { up_to_3000_eur = 22.5, over_3000_up_to_6000_eur = 15, over_6000_eur = 8.125 }\n",
        encoding="utf-8",
    )

    assert UsuryTable.load(path).cap_for(7_000_00, date(2026, 2, 1)) == UsuryCap(
        BAND_OVER_6000, Decimal("0.08125"), date(2026, 1, 1)
    )


RATES = "rates_percent = { up_to_3000_eur = 23.49, over_3000_up_to_6000_eur = 15.71, over_6000_eur = 8.73 }\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[quarter]\nvalid_from = 2025-10-01\n", "not valid TOML"),
        ("", "quarter"),
        ("quarter = []\n", "at least 1"),
        (
            "[[quarter]]\nvalid_from = 2025-10-01\n"
            "rates_percent = { up_to_3000_eur = 23.49, over_3000_up_to_6000_eur = 15.71 }\n",
            "over_6000_eur",
        ),
        (
            "[[quarter]]\nvalid_from = 2025-10-01\n"
            "rates_percent = { up_to_3000_eur = 23.49, over_3000_up_to_6000_eur = 15.71, over_6000_eur = 8.73,"
            " over_9000_eur = 5 }\n",
            "over_9000_eur",
        ),
        ("[[quarter]]\n" + RATES, "valid_from"),
        ("[[quarter]]\nvalid_from = 2025-13-01\n" + RATES, "not valid TOML"),
        ("[[quarter]]\nvalid_from = 2025-10-01\n" + RATES.replace("23.49", '"high"'), "up_to_3000_eur"),
        ("[[quarter]]\nvalid_from = 2025-10-01\n" + RATES.replace("8.73", "-8.73"), "over_6000_eur"),
        ("[[quarter]]\nvalid_from = 2025-10-01\n" + RATES.replace("23.49", "123.49"), "up_to_3000_eur"),
        (
            "[[quarter]]\nvalid_from = 2025-10-01\n" + RATES + "[[quarter]]\nvalid_from = 2025-04-01\n" + RATES,
            "must increase",
        ),
        (
            "[[quarter]]\nvalid_from = 2025-10-01\n" + RATES + "[[quarter]]\nvalid_from = 2025-10-01\n" + RATES,
            "must increase",
        ),
    ],
    ids=[
        "broken TOML",
        "empty file",
        "no entry",
        "missing band",
        "unknown band",
        "no date",
        "impossible date",
        "rate not a number",
        "negative rate",
        "rate over 100 %",
        "dates going back",
        "same date twice",
    ],
)
def test_a_malformed_file_is_refused_with_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "caps.toml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(UsuryTableError, match=message) as raised:
        UsuryTable.load(path)
    assert str(path) in str(raised.value)


def test_a_missing_file_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(UsuryTableError, match="missing.toml"):
        UsuryTable.load(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("day", "start"),
    [(date(2026, 1, 1), Q1_2026), (date(2026, 3, 31), Q1_2026), (date(2026, 11, 30), date(2026, 10, 1)), (date(2025, 7, 14), Q3_2025)],
)
def test_a_day_belongs_to_the_quarter_that_holds_it(day: date, start: date) -> None:
    assert quarter_start(day) == start


def test_the_table_is_up_to_date_only_while_its_newest_quarter_is_the_current_one(table: UsuryTable) -> None:
    assert not table.freshness(date(2026, 3, 31)).out_of_date
    late = table.freshness(date(2026, 4, 1))

    assert late.out_of_date
    assert (late.newest, late.current_quarter) == (Q1_2026, date(2026, 4, 1))
