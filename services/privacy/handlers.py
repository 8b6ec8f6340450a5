"""The privacy service's Kafka handlers: the applications and loans streams keep each subject's ledger row.

They translate, they do not decide: each event says where the file stands and when, nothing personal is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.privacy import repository
from services.privacy.domain import Status
from services.privacy.settings import PrivacySettings
from shared.batch_handler import writing_rows
from shared.clock import business_day
from shared.events import (
    ApplicationAssessed, ApplicationSubmitted, ApplicationUpdated, ApplicationWithdrawn, LoanApproved, LoanClosed,
    LoanDeclined, LoanDisbursed, LoanWrittenOff, Topics,
)
from shared.events.envelope import Envelope
from shared.runtime import ServiceContext

GROUP_ID = "privacy"


def _fact(event: Envelope[Any], status: Status | None, **facts: Any) -> repository.LedgerFact:
    data = event.data
    return repository.ledger_fact(
        data.application_id, association_id=data.association_id, region=data.region, status=status, at=event.time, **facts
    )


def submitted(event: ApplicationSubmitted | ApplicationUpdated) -> repository.LedgerFact:
    """A file was submitted or changed: its last activity."""
    return _fact(event, Status.SUBMITTED if isinstance(event, ApplicationSubmitted) else None)


def withdrawn(event: ApplicationWithdrawn) -> repository.LedgerFact:
    """The applicant withdrew the file."""
    return _fact(event, Status.WITHDRAWN)


def assessed(event: ApplicationAssessed) -> repository.LedgerFact:
    """An unfavourable assessment ends the file; any other is activity."""
    return _fact(event, Status.UNFAVOURABLE if event.data.outcome == "unfavourable" else None)


def approved(event: LoanApproved) -> repository.LedgerFact:
    """The bank approved: a loan runs from now on (erasure refused)."""
    return _fact(event, Status.APPROVED, approved_at=event.time)


def declined(event: LoanDeclined) -> repository.LedgerFact:
    """The bank declined."""
    return _fact(event, Status.DECLINED)


def disbursed(event: LoanDisbursed) -> repository.LedgerFact:
    """The loan was paid out."""
    return _fact(event, Status.ACTIVE, loan_id=event.data.loan_id)


def closed(event: LoanClosed) -> repository.LedgerFact:
    """The loan is repaid: the five years of `loan-after-closure` count from its closure."""
    return _fact(event, Status.CLOSED, loan_id=event.data.loan_id, ended_on=event.data.closed_on)


def written_off(event: LoanWrittenOff) -> repository.LedgerFact:
    """The loan was written off: it ends there too."""
    ended = event.data.business_date or business_day(event.time)
    return _fact(event, Status.WRITTEN_OFF, loan_id=event.data.loan_id, ended_on=ended)


# What each event the ledger reads says of its file.
FACTS: dict[type[Envelope[Any]], Callable[[Any], repository.LedgerFact]] = {
    ApplicationSubmitted: submitted, ApplicationUpdated: submitted, ApplicationWithdrawn: withdrawn,
    ApplicationAssessed: assessed, LoanApproved: approved, LoanDeclined: declined, LoanDisbursed: disbursed,
    LoanClosed: closed, LoanWrittenOff: written_off,
}


# Every event the ledger reads is one upsert of its file's row: a run of them, whatever their types, is written in one
# pipelined round trip, in offset order (shared.batch_handler), not one per event.
on_event = writing_rows(lambda event: FACTS[type(event)](event), repository.record_many)


def register(ctx: ServiceContext[PrivacySettings]) -> None:
    """Subscribe the privacy service to the applications and loans streams."""
    ctx.consume(GROUP_ID, (Topics.APPLICATIONS, Topics.LOANS), {cls: on_event for cls in FACTS})
