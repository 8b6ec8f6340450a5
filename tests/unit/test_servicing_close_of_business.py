"""The close of business's rules, computed by hand: grace days before an instalment counts as missed, what a run reports."""

from __future__ import annotations

from datetime import date

import pytest

from services.servicing.domain import ChunkDone, CloseOfBusinessRun, CobPolicy
from services.servicing.settings import ServicingSettings

pytestmark = pytest.mark.unit


def test_with_five_grace_days_the_instalment_due_on_the_first_is_missed_at_the_close_of_the_sixth() -> None:
    policy = CobPolicy(grace_days=5)

    assert policy.missed_by(date(2026, 5, 6)) == date(2026, 5, 1)
    assert CobPolicy().missed_by(date(2026, 5, 6)) == date(2026, 5, 6)


def test_a_business_date_at_the_start_of_the_calendar_is_no_error() -> None:
    assert CobPolicy(grace_days=5).missed_by(date(1, 1, 2)) == date(1, 1, 1)


def test_the_policy_is_the_one_the_settings_configure() -> None:
    settings = ServicingSettings(oidc_issuer="https://identity.example/realms/microcredit", grace_days=5, write_off_days=120, cob_chunk_size=200)

    assert CobPolicy.of(settings) == CobPolicy(grace_days=5, write_off_days=120, chunk_size=200)


def test_a_run_reports_what_its_chunks_did_together() -> None:
    chunks = [ChunkDone(loans=1000, missed=31, stage_changes=12, written_off=1), ChunkDone(loans=412, missed=9, stage_changes=4)]

    run = CloseOfBusinessRun.of(date(2026, 5, 6), sum(chunks, ChunkDone()), chunks=2, resumed=False)

    assert (run.loans_visited, run.missed_instalments, run.stage_changes, run.written_off, run.chunks) == (1412, 40, 16, 1, 2)
