"""Assessment HTTP API: counsellors record outcomes, partner banks record decisions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends

from services.assessment import domain, repository
from shared.events.envelope import Envelope
from shared.http import not_found
from shared.outbox import add_to_outbox
from shared.runtime import ServiceContext, service_context

router = APIRouter(prefix="/assessments", tags=["assessments"])


@router.get("/{application_id}", response_model=domain.Assessment, summary="Read a file's assessment")
async def get_assessment(application_id: UUID, ctx: ServiceContext = Depends(service_context)) -> domain.Assessment:
    """The diagnostic, the outcome and the bank decision of one file."""
    assessment = await repository.get(ctx.pool, application_id)
    if assessment is None:
        raise not_found("assessment", application_id)
    return assessment


async def _transition(
    ctx: ServiceContext,
    application_id: UUID,
    decide: Callable[[domain.Assessment, datetime], tuple[domain.Assessment, Envelope[Any]]],
) -> domain.Assessment:
    """Lock the file, apply one decision, store the new state and its event in one transaction."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        current = await repository.get(conn, application_id, for_update=True)
        if current is None:
            raise not_found("assessment", application_id)
        updated, event = decide(current, ctx.clock.now())
        await repository.save(conn, updated)
        await add_to_outbox(conn, event)
    return updated


@router.post("/{application_id}/outcome", response_model=domain.Assessment, summary="Record the counsellor's outcome")
async def record_outcome(
    application_id: UUID, body: domain.Outcome, ctx: ServiceContext = Depends(service_context)
) -> domain.Assessment:
    """Favourable (with terms and a partner bank) or unfavourable; publishes `application assessed`."""
    return await _transition(ctx, application_id, lambda a, now: domain.record_outcome(a, body, now))


@router.post("/{application_id}/bank-decision", response_model=domain.Assessment, summary="Record the bank's decision")
async def record_bank_decision(
    application_id: UUID, body: domain.BankDecision, ctx: ServiceContext = Depends(service_context)
) -> domain.Assessment:
    """Approve (final terms) or decline (reason); publishes `loan approved` or `loan declined`."""
    return await _transition(ctx, application_id, lambda a, now: domain.record_bank_decision(a, body, now))
