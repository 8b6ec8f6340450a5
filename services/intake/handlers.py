"""Intake's Kafka handlers: assessment's events date the funnel and tell intake when the bank decided."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.intake import domain, service
from shared.events import ApplicationAssessed, ApplicationRouted, LoanApproved, LoanDeclined, Topics
from shared.events.envelope import Envelope
from shared.runtime import ServiceContext

GROUP_ID = "intake"
ASSESSED: dict[str, domain.Milestone] = {
    "favourable": domain.Milestone.ASSESSED_FAVOURABLE,
    "unfavourable": domain.Milestone.ASSESSED_UNFAVOURABLE,
    "incomplete": domain.Milestone.RETURNED_INCOMPLETE,
}


async def _progress(conn: asyncpg.Connection, event: Envelope[Any], milestone: domain.Milestone, **details: Any) -> None:
    data = event.data
    await service.record_progress(
        conn,
        data.application_id,
        milestone,
        association_id=data.association_id,
        region=data.region,
        actor=domain.Actor(subject=event.source, role="service"),
        at=event.time,
        details={"event_id": str(event.id), **details},
    )


async def on_assessed(conn: asyncpg.Connection, event: ApplicationAssessed) -> None:
    """The counsellor's assessment outcome."""
    await _progress(conn, event, ASSESSED[event.data.outcome], outcome=event.data.outcome)


async def on_routed(conn: asyncpg.Connection, event: ApplicationRouted) -> None:
    """The file went to a partner bank."""
    await _progress(conn, event, domain.Milestone.ROUTED, bank_id=event.data.bank_id)


async def on_approved(conn: asyncpg.Connection, event: LoanApproved) -> None:
    """The bank approved: the file can no longer be withdrawn."""
    await _progress(conn, event, domain.Milestone.APPROVED, bank_id=event.data.bank_id)


async def on_declined(conn: asyncpg.Connection, event: LoanDeclined) -> None:
    """The bank declined."""
    await _progress(conn, event, domain.Milestone.DECLINED, bank_id=event.data.bank_id)


def register(ctx: ServiceContext) -> None:
    """Subscribe intake to assessment's events on the applications stream."""
    ctx.consume(
        GROUP_ID,
        (Topics.APPLICATIONS,),
        {ApplicationAssessed: on_assessed, ApplicationRouted: on_routed, LoanApproved: on_approved, LoanDeclined: on_declined},
    )
