"""The counsellors' review: their queue, a file's assessment and audit trail, the FICP consultation, the outcome.

Counsellors and supervisors see their own association's files; another's answers 404 like an unknown one.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from services.assessment import repository, usecases
from services.assessment.api.common import Context
from services.assessment.domain import access
from services.assessment.domain.assessment import Assessment, AuditEntry, Status
from services.assessment.domain.checks import unresolved, usury_table_warnings
from services.assessment.domain.outcome import Outcome
from services.assessment.domain.review import FicpRecord
from shared.arrivals import Prefer
from shared.auth import AssociationStaff, Principal
from shared.http import PageQuery, not_found
from shared.openapi import problems

router = APIRouter(tags=["review"])


class QueueItem(BaseModel):
    """One file in a review queue."""

    model_config = ConfigDict(frozen=True)

    application_id: UUID
    applicant_name: str | None
    counsellor_id: str
    purpose: str
    requested_amount_cents: int
    requested_duration_months: int
    status: Status
    received_at: datetime
    ficp_recorded: bool
    failed_checks: list[str] = Field(description="Checks that failed and were not overridden.")

    @classmethod
    def of(cls, a: Assessment) -> QueueItem:
        """The queue line of a file."""
        return cls(
            **a.model_dump(include={"application_id", "applicant_name", "counsellor_id", "purpose", "requested_amount_cents",
                                    "requested_duration_months", "status", "received_at"}),
            ficp_recorded=a.ficp is not None,
            failed_checks=[c.name for c in unresolved(a.checks)],
        )


class AssessmentView(Assessment):
    """A file's assessment as the counsellor reads it, with what they must know about the rules applied to it."""

    warnings: list[str] = Field(
        default_factory=list,
        description="In French, for the counsellor: e.g. the usury caps of the current quarter are not recorded yet.",
    )


def _view(ctx: Context, a: Assessment) -> AssessmentView:
    # At read time, with the service clock: the warning says what the checks would apply today.
    freshness = ctx.settings.usury_table().freshness(ctx.clock.today())
    return AssessmentView(**dict(a), warnings=usury_table_warnings(freshness))


def _theirs(a: Assessment | None, application_id: UUID) -> Assessment:
    if a is None:
        raise not_found("assessment", application_id)
    return a


async def _seen(ctx: Context, application_id: UUID, principal: Principal) -> Assessment | None:
    file = await repository.get(ctx.pool, application_id)
    return file if file is not None and access.association_sees(principal, file) else None


async def _visible(ctx: Context, application_id: UUID, principal: Principal) -> Assessment:
    return _theirs(await _seen(ctx, application_id, principal), application_id)


@router.get("/assessments", response_model=list[QueueItem], summary="Review queue")
async def review_queue(
    principal: AssociationStaff, ctx: Context, page: PageQuery, status: Status | None = None
) -> list[QueueItem]:
    """A counsellor's own files, a supervisor's whole association; oldest first, e.g. `?status=pending_review`."""
    files = await repository.queue(
        ctx.pool, association_id=principal.association_id or "", counsellor_id=access.queue_owner(principal),
        status=status, limit=page.limit, offset=page.offset,
    )
    return [QueueItem.of(f) for f in files]


@router.get("/assessments/{application_id}", response_model=AssessmentView, summary="Read a file's assessment")
async def get_assessment(
    application_id: UUID, principal: AssociationStaff, ctx: Context, response: Response, prefer: Prefer = None
) -> AssessmentView:
    """The file, its budget diagnostic and checks, the FICP consultation, the outcome and the bank's decision.

    With `Prefer: wait=N`, a file just submitted is answered as soon as assessment has received it (404 after N s)."""
    found = await ctx.arrivals.honour(prefer, response, [str(application_id)], lambda: _seen(ctx, application_id, principal))
    return _view(ctx, _theirs(found, application_id))


@router.get("/assessments/{application_id}/audit", response_model=list[AuditEntry], summary="Audit trail")
async def get_audit_trail(application_id: UUID, principal: AssociationStaff, ctx: Context) -> list[AuditEntry]:
    """Every change of the file's state: what, who and when."""
    await _visible(ctx, application_id, principal)
    return await repository.audit_trail(ctx.pool, application_id)


@router.post(
    "/assessments/{application_id}/ficp", response_model=AssessmentView, summary="Record the FICP consultation",
    responses=problems(409),
)
async def record_ficp(application_id: UUID, body: FicpRecord, principal: AssociationStaff, ctx: Context) -> AssessmentView:
    """Date and result of the FICP consultation (Code de la consommation L.312-16), required before routing."""
    async with ctx.pool.acquire() as conn:  # one statement of its own, no transaction around it (`usecases._command`)
        updated = await usecases.record_ficp(
            conn, application_id, body, caller=principal, settings=ctx.settings, now=ctx.clock.now()
        )
    return _view(ctx, _theirs(updated, application_id))


@router.post(
    "/assessments/{application_id}/outcome", response_model=AssessmentView, summary="Record the outcome",
    responses=problems(409),
)
async def record_outcome(application_id: UUID, body: Outcome, principal: AssociationStaff, ctx: Context) -> AssessmentView:
    """Favourable (routes to the partner bank), unfavourable (reasons, orientation) or incomplete (missing items)."""
    async with ctx.pool.acquire() as conn:  # one statement of its own, no transaction around it (`usecases._command`)
        updated = await usecases.record_outcome(
            conn, application_id, body, caller=principal, settings=ctx.settings, now=ctx.clock.now()
        )
    return _view(ctx, _theirs(updated, application_id))
