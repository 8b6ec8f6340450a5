"""A data subject's ledger row and the decisions the retention rules make about it (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from shared.clock import business_day
from shared.privacy.retention import RetentionRule


class Status(StrEnum):
    """Where the file stands, as the applications and loans streams told it."""

    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    UNFAVOURABLE = "unfavourable"
    DECLINED = "declined"
    APPROVED = "approved"
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


# A later step never gives way to an earlier one (the two streams are not ordered with each other).
RANK = {
    Status.SUBMITTED: 0, Status.WITHDRAWN: 1, Status.UNFAVOURABLE: 1, Status.DECLINED: 1,
    Status.APPROVED: 2, Status.ACTIVE: 3, Status.CLOSED: 4, Status.WRITTEN_OFF: 4,
}
_LOAN_RUNNING = frozenset({Status.APPROVED, Status.ACTIVE})
_LOAN_ENDED = frozenset({Status.CLOSED, Status.WRITTEN_OFF})


@dataclass(frozen=True)
class Subject:
    """One file's ledger row: no personal data, only what the retention rules need."""

    subject_id: UUID
    association_id: str
    region: str
    status: Status
    loan_id: UUID | None
    last_activity_at: datetime
    approved_at: datetime | None
    ended_on: date | None
    restricted_at: datetime | None
    erased_at: datetime | None

    @property
    def had_a_loan(self) -> bool:
        """The bank approved: the loan's amounts and dates stay for the portfolio (anonymised, not erased)."""
        return self.status in _LOAN_RUNNING or self.status in _LOAN_ENDED


def governing_rule(subject: Subject) -> str:
    """The id of the retention rule that governs the subject now."""
    if subject.status in _LOAN_RUNNING:
        return "active-loan"
    if subject.status in _LOAN_ENDED:
        return "loan-after-closure"
    return "file-not-a-loan"


def retention_start(subject: Subject) -> date | None:
    """The day the governing rule counts from: the loan's end, or the file's last activity (in France)."""
    if subject.status in _LOAN_ENDED:
        return subject.ended_on
    if subject.status in _LOAN_RUNNING:
        return None
    return business_day(subject.last_activity_at)


def retention_ends_on(subject: Subject, rules: dict[str, RetentionRule]) -> date | None:
    """The first day the subject's data may no longer be kept under the rule governing it (None: kept for now)."""
    rule = rules.get(governing_rule(subject))
    start = retention_start(subject)
    return rule.ends_on(start) if rule is not None and start is not None else None


def retention_due(subject: Subject, rules: dict[str, RetentionRule], day: date) -> RetentionRule | None:
    """The rule to apply to the subject on `day` (its period is over), or None: nothing to do."""
    if subject.erased_at is not None:
        return None
    ends = retention_ends_on(subject, rules)
    return rules[governing_rule(subject)] if ends is not None and ends <= day else None


@dataclass(frozen=True)
class Decision:
    """What a request for erasure gets: allowed (and how), or refused by a rule with its legal reason."""

    allowed: bool
    kind: str  # erase | anonymise
    rule: str  # the rule that refuses, or "request"
    reason: str  # in French, for the person and the DPO


def erasure_decision(subject: Subject, reasons: dict[str, RetentionRule]) -> Decision:
    """The person's right to erasure (RGPD art. 17): refused while a loan runs, granted otherwise."""
    kind = "anonymise" if subject.had_a_loan else "erase"
    if subject.status in _LOAN_RUNNING:
        return Decision(False, kind, "active-loan", reasons["active-loan"].legal_reason)
    if subject.had_a_loan:
        reason = ("Le prêt est terminé : les données de la personne sont effacées ; ses montants et ses dates restent, "
                  "anonymisés, dans les chiffres du portefeuille.")
    else:
        reason = "Aucun prêt n'est en cours : les données de la personne sont effacées de tous les services."
    return Decision(True, kind, "request", reason)
