"""The benchmarks stay runnable and their arithmetic right (they run on purpose, never in the suite)."""

from __future__ import annotations

import importlib

import pytest

from bench.flow_report import percentile, table
from bench.portfolio import DURATIONS, max_duration, picks, templates


@pytest.mark.unit
@pytest.mark.parametrize("module", ["bench.flow", "bench.close_of_business", "bench.web", "bench.taeg"])
def test_the_benchmark_command_loads_and_lists_its_options(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Importing the command is what breaks when the service code it drives moves.
    main = importlib.import_module(module).main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])

    assert exit_.value.code == 0
    assert f"python -m {module}" in capsys.readouterr().out


@pytest.mark.unit
def test_the_portfolio_has_the_648_schedule_templates_the_readme_reports() -> None:
    catalogue = templates()

    assert len(catalogue) == 648
    assert all(months <= max_duration(cents // 100) and months in DURATIONS for _, cents, _, months in catalogue)


@pytest.mark.unit
def test_the_same_seed_draws_the_same_portfolio() -> None:
    catalogue = templates()

    assert picks(catalogue, 2026) == picks(catalogue, 2026)
    assert picks(catalogue, 2026) != picks(catalogue, 2027)


@pytest.mark.unit
def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([0.4, 0.1, 0.3, 0.2], 50) == pytest.approx(0.25)
    assert percentile([0.4, 0.1, 0.3, 0.2], 100) == 0.4
    assert percentile([], 95) is None


@pytest.mark.unit
def test_report_tables_align_the_first_column_left_and_figures_right() -> None:
    assert table(["step", "p50"], [["alert raised", 894.4], ["loan approved", None]]).splitlines() == [
        "  step             p50",
        "  alert raised   894.4",
        "  loan approved      -",
    ]
