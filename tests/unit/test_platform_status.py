"""`make status`: one line per piece of the platform, what is down, and whether the usury caps are current."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from deploy.local.status import NOTHING_RUNNING, Piece, render_status, usury_caps_line

pytestmark = pytest.mark.unit

USURY_LINE = "usury caps     up to date (quarter of 01/10/2026)"
TWO_QUARTERS = """
[[quarter]]
valid_from = 2025-10-01
rates_percent = { up_to_3000_eur = 23.49, over_3000_up_to_6000_eur = 15.71, over_6000_eur = 8.73 }

[[quarter]]
valid_from = 2026-01-01
rates_percent = { up_to_3000_eur = 23.56, over_3000_up_to_6000_eur = 15.87, over_6000_eur = 8.67 }
"""


def _platform(*down: str) -> list[Piece]:
    addresses = {
        "kafka": "127.0.0.1:39092",
        "postgres": "postgresql://postgres@127.0.0.1:35432/postgres",
        "intake": "http://127.0.0.1:8001",
        "assessment": "http://127.0.0.1:8002",
        "servicing": "http://127.0.0.1:8003",
        "notifications": "http://127.0.0.1:8004",
        "traces (OTLP)": "http://127.0.0.1:4318",
    }
    return [Piece(name, name not in down, address) for name, address in addresses.items()]


def test_everything_up_is_one_line_per_piece_and_succeeds() -> None:
    report, code = render_status(_platform(), USURY_LINE)

    assert code == 0
    assert report.splitlines() == [
        "kafka          up    127.0.0.1:39092",
        "postgres       up    postgresql://postgres@127.0.0.1:35432/postgres",
        "intake         up    http://127.0.0.1:8001",
        "assessment     up    http://127.0.0.1:8002",
        "servicing      up    http://127.0.0.1:8003",
        "notifications  up    http://127.0.0.1:8004",
        "traces (OTLP)  up    http://127.0.0.1:4318",
        USURY_LINE,
    ]


def test_nothing_running_is_said_plainly_and_succeeds() -> None:
    report, code = render_status([Piece(p.name, False, p.address) for p in _platform()], USURY_LINE)

    assert code == 0
    assert report.splitlines() == [NOTHING_RUNNING, USURY_LINE]
    assert NOTHING_RUNNING.startswith("nothing is running")


def test_a_partial_platform_names_what_is_down_and_fails() -> None:
    report, code = render_status(_platform("assessment", "traces (OTLP)"), USURY_LINE)

    assert code == 1
    lines = report.splitlines()
    assert "assessment     down  http://127.0.0.1:8002" in lines
    assert lines[-2].startswith("down: assessment, traces (OTLP)")
    assert lines[-1] == USURY_LINE


@pytest.fixture
def caps_file(tmp_path: Path) -> Path:
    path = tmp_path / "usury_caps.toml"
    path.write_text(TWO_QUARTERS)
    return path


def test_usury_caps_are_up_to_date_within_the_newest_quarter(caps_file: Path) -> None:
    assert usury_caps_line(date(2026, 3, 31), caps_file) == "usury caps     up to date (quarter of 01/01/2026)"


def test_usury_caps_are_out_of_date_once_a_new_quarter_starts(caps_file: Path) -> None:
    assert usury_caps_line(date(2026, 11, 30), caps_file) == (
        f"usury caps     out of date: newest quarter 01/01/2026, current quarter 01/10/2026 — add it to {caps_file}"
    )


def test_the_file_to_edit_is_named_from_the_checkout() -> None:
    line = usury_caps_line(date(2999, 1, 1))

    assert line.startswith("usury caps     out of date: newest quarter ")
    assert line.endswith("current quarter 01/01/2999 — add it to shared/usury_caps.toml")


def test_an_unreadable_caps_file_is_said(tmp_path: Path) -> None:
    broken = tmp_path / "usury_caps.toml"
    broken.write_text("[[quarter]]\nvalid_from = 2026-13-01\n")

    assert usury_caps_line(date(2026, 11, 30), broken).startswith("usury caps     cannot be read: ")


def test_a_service_with_a_replica_down_says_how_many_answer_and_the_platform_is_partly_down(tmp_path: Path) -> None:
    from deploy.local.services import ServiceProcess
    from deploy.local.status import service_piece

    (tmp_path / "intake.pid").write_text(str(os.getpid()))  # this test's own process: alive
    (tmp_path / "intake-2.pid").write_text("999999999")  # no such process: killed
    manifest = [
        {"url": "http://127.0.0.1:40101", "log": str(ServiceProcess("intake", 0, tmp_path).log_file)},
        {"url": "http://127.0.0.1:40102", "log": str(ServiceProcess("intake", 0, tmp_path, replica=2).log_file)},
    ]

    piece = service_piece("intake", tmp_path, "http://127.0.0.1:8001", expected=2, replicas=manifest)
    report, code = render_status([Piece("kafka", True, "127.0.0.1:39092"), piece], USURY_LINE)

    assert report.splitlines()[1] == "intake         down  http://127.0.0.1:8001  1/2 replicas (:40101)"
    assert code == 1
