"""Intake's Kafka handlers: assessment's events date the funnel and tell intake when the bank decided.

Each handler translates its event into the progress it reports and calls `usecases.record_progress`.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.intake import domain, usecases
from services.intake.settings import IntakeSettings
from shared.auth import Actor
from shared.events import (
    ApplicationAssessed, ApplicationRouted, LoanApproved, LoanDeclined, PersonErased, PersonRestricted, Topics,
)
from shared.events.envelope import Envelope
from shared.runtime import ServiceContext

GROUP_ID = "intake"
ERASURES_GROUP_ID = "intake-erasures"


def _progress(event: Envelope[Any], milestone: domain.Milestone, **details: Any) -> domain.Progress:
    """The progress an event of assessment reports, with the event's id in the audit line."""
    data = event.data
    return domain.Progress(
        application_id=data.application_id,
        milestone=milestone,
        association_id=data.association_id,
        region=data.region,
        actor=Actor.service(event.source),
        at=event.time,
        details={"event_id": str(event.id), **details},
    )


async def on_assessed(conn: asyncpg.Connection, event: ApplicationAssessed) -> None:
    """The counsellor's assessment outcome."""
    outcome = event.data.outcome
    await usecases.record_progress(conn, _progress(event, domain.ASSESSED[outcome], outcome=outcome))


async def on_routed(conn: asyncpg.Connection, event: ApplicationRouted) -> None:
    """The file went to a partner bank."""
    await usecases.record_progress(conn, _progress(event, domain.Milestone.ROUTED, bank_id=event.data.bank_id))


async def on_approved(conn: asyncpg.Connection, event: LoanApproved) -> None:
    """The bank approved: the file can no longer be withdrawn."""
    await usecases.record_progress(conn, _progress(event, domain.Milestone.APPROVED, bank_id=event.data.bank_id))


async def on_declined(conn: asyncpg.Connection, event: LoanDeclined) -> None:
    """The bank declined."""
    await usecases.record_progress(conn, _progress(event, domain.Milestone.DECLINED, bank_id=event.data.bank_id))


async def on_erased(conn: asyncpg.Connection, event: PersonErased) -> None:
    """The person of a file was erased (privacy service): nothing of them stays in intake."""
    await usecases.erase_person(conn, event.data.subject_id, actor=Actor.service(event.source), at=event.data.erased_at)


async def on_restricted(conn: asyncpg.Connection, event: PersonRestricted) -> None:
    """The DPO restricted the file's processing, or lifted the restriction."""
    data = event.data
    await usecases.restrict_file(conn, data.subject_id, data.at if data.restricted else None)


def register(ctx: ServiceContext[IntakeSettings]) -> None:
    """Subscribe intake to assessment's events on the applications stream, and to the erasures."""
    ctx.consume(
        GROUP_ID,
        (Topics.APPLICATIONS,),
        {ApplicationAssessed: on_assessed, ApplicationRouted: on_routed, LoanApproved: on_approved, LoanDeclined: on_declined},
    )
    ctx.consume(ERASURES_GROUP_ID, (Topics.PRIVACY,), {PersonErased: on_erased, PersonRestricted: on_restricted})
