"""The dated retention rules and what they decide about a file (pure: no database, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from services.privacy.domain import Status, Subject, erasure_decision, governing_rule, retention_due
from shared.privacy.retention import in_force, load_rules, reasons

pytestmark = pytest.mark.unit

RULES = load_rules()
WITHDRAWN = Subject(
    subject_id=uuid4(), association_id="secours-catholique", region="hauts-de-france", status=Status.WITHDRAWN,
    loan_id=None, last_activity_at=datetime(2027, 8, 31, 22, 30, tzinfo=UTC),  # 1 September in Paris
    approved_at=None, ended_on=None, restricted_at=None, erased_at=None,
)


def test_every_rule_of_the_file_has_a_legal_reason_in_french_and_a_known_outcome() -> None:
    assert {r.id for r in RULES} >= {"file-not-a-loan", "loan-after-closure", "active-loan", "audit-trail", "notification-log"}
    for rule in RULES:
        assert rule.then in {"erase", "anonymise", "keep", "pseudonymise"}
        assert len(rule.legal_reason) > 100 and " la " in rule.legal_reason, rule.id  # a reason, written in French
        assert "\n" not in rule.legal_reason  # one paragraph, as the notice prints it


def test_the_entry_in_force_is_the_latest_dated_on_or_before_the_day(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "deploy" / "privacy" / "retention.toml").read_text()
    later = text + '\n[[rule]]\nid = "file-not-a-loan"\nsince = 2028-01-01\napplies_to = "x"\nfrom = "x"\nkeep = "P3M"\nthen = "erase"\nlegal_reason = "Nouvelle délibération de la CNIL."\n'
    (tmp_path / "retention.toml").write_text(later)
    rules = load_rules(tmp_path / "retention.toml")

    assert in_force(rules, date(2026, 11, 30)) == {}  # nothing was in force before the first rules
    assert in_force(rules, date(2027, 12, 31))["file-not-a-loan"].keep == "P6M"
    assert in_force(rules, date(2028, 1, 1))["file-not-a-loan"].keep == "P3M"
    assert reasons(rules, date(2026, 3, 2))["active-loan"].since == date(2026, 12, 1)  # a refusal still says why


def test_a_period_counts_calendar_months_and_years_from_the_french_day() -> None:
    rules = in_force(RULES, date(2028, 1, 1))

    assert rules["file-not-a-loan"].ends_on(date(2027, 8, 31)) == date(2028, 2, 29)  # no 31 February: its last day
    assert rules["loan-after-closure"].ends_on(date(2029, 3, 5)) == date(2034, 3, 5)
    assert rules["active-loan"].ends_on(date(2029, 3, 5)) is None  # kept while the loan runs


def test_a_file_that_never_became_a_loan_is_erased_six_months_after_its_last_event() -> None:
    rules = in_force(RULES, date(2028, 3, 1))

    assert governing_rule(WITHDRAWN) == "file-not-a-loan"
    assert retention_due(WITHDRAWN, rules, date(2028, 2, 29)) is None
    assert retention_due(WITHDRAWN, rules, date(2028, 3, 1)).then == "erase"  # 1 September (Paris) + 6 months
    assert retention_due(replace(WITHDRAWN, erased_at=datetime(2028, 3, 1, tzinfo=UTC)), rules, date(2028, 3, 2)) is None


def test_erasure_is_refused_while_a_loan_runs_and_granted_as_an_anonymisation_once_it_ended() -> None:
    explain = reasons(RULES, date(2027, 1, 4))
    running = replace(WITHDRAWN, status=Status.ACTIVE, loan_id=uuid4())
    ended = replace(running, status=Status.CLOSED, ended_on=date(2029, 3, 5))

    refused = erasure_decision(running, explain)
    assert (refused.allowed, refused.rule) == (False, "active-loan")
    assert refused.reason.startswith("Tant que le prêt court")
    assert (erasure_decision(ended, explain).allowed, erasure_decision(ended, explain).kind) == (True, "anonymise")
    assert (erasure_decision(WITHDRAWN, explain).kind, erasure_decision(WITHDRAWN, explain).rule) == ("erase", "request")
    assert retention_due(ended, in_force(RULES, date(2034, 3, 5)), date(2034, 3, 5)).id == "loan-after-closure"
