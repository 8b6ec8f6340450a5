"""The privacy service's Kafka handlers: the applications and loans streams keep each subject's ledger row.

They translate, they do not decide: each event says where the file stands and when, nothing personal is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from services.privacy import repository
from services.privacy.domain import Status
from services.privacy.settings import PrivacySettings
from shared.batch_handler import BatchHandler
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


async def _record(conn: asyncpg.Connection, event: Envelope[Any], status: Status | None, **facts: Any) -> None:
    await repository.record(conn, _fact(event, status, **facts))


async def _no_read(_conn: asyncpg.Connection, _events: Sequence[Envelope[Any]]) -> list[repository.LedgerFact]:
    return []  # the ledger's upsert decides from the row itself: nothing to read before the run


async def _submitted(
    _conn: asyncpg.Connection, event: ApplicationSubmitted | ApplicationUpdated, facts: list[repository.LedgerFact]
) -> None:
    """A file was submitted or changed: its last activity (written with the run's others by `_write`)."""
    facts.append(_fact(event, Status.SUBMITTED if isinstance(event, ApplicationSubmitted) else None))


async def _write(conn: asyncpg.Connection, facts: list[repository.LedgerFact]) -> None:
    await repository.record_many(conn, facts)
    facts.clear()


# A run of submitted or changed files is recorded in one round trip, not one per file (shared.batch_handler).
on_submitted = BatchHandler(_no_read, _submitted, _write)


async def on_withdrawn(conn: asyncpg.Connection, event: ApplicationWithdrawn) -> None:
    """The applicant withdrew the file."""
    await _record(conn, event, Status.WITHDRAWN)


async def on_assessed(conn: asyncpg.Connection, event: ApplicationAssessed) -> None:
    """An unfavourable assessment ends the file; any other is activity."""
    await _record(conn, event, Status.UNFAVOURABLE if event.data.outcome == "unfavourable" else None)


async def on_approved(conn: asyncpg.Connection, event: LoanApproved) -> None:
    """The bank approved: a loan runs from now on (erasure refused)."""
    await _record(conn, event, Status.APPROVED, approved_at=event.time)


async def on_declined(conn: asyncpg.Connection, event: LoanDeclined) -> None:
    """The bank declined."""
    await _record(conn, event, Status.DECLINED)


async def on_disbursed(conn: asyncpg.Connection, event: LoanDisbursed) -> None:
    """The loan was paid out."""
    await _record(conn, event, Status.ACTIVE, loan_id=event.data.loan_id)


async def on_closed(conn: asyncpg.Connection, event: LoanClosed) -> None:
    """The loan is repaid: the five years of `loan-after-closure` count from its closure."""
    await _record(conn, event, Status.CLOSED, loan_id=event.data.loan_id, ended_on=event.data.closed_on)


async def on_written_off(conn: asyncpg.Connection, event: LoanWrittenOff) -> None:
    """The loan was written off: it ends there too."""
    ended = event.data.business_date or business_day(event.time)
    await _record(conn, event, Status.WRITTEN_OFF, loan_id=event.data.loan_id, ended_on=ended)


def register(ctx: ServiceContext[PrivacySettings]) -> None:
    """Subscribe the privacy service to the applications and loans streams."""
    ctx.consume(
        GROUP_ID,
        (Topics.APPLICATIONS, Topics.LOANS),
        {
            ApplicationSubmitted: on_submitted, ApplicationUpdated: on_submitted, ApplicationWithdrawn: on_withdrawn,
            ApplicationAssessed: on_assessed, LoanApproved: on_approved, LoanDeclined: on_declined,
            LoanDisbursed: on_disbursed, LoanClosed: on_closed, LoanWrittenOff: on_written_off,
        },
    )
