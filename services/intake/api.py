"""Intake HTTP API: counsellors and supervisors build their association's files; the funnel for them and ops."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake import domain, repository, service
from shared.auth import Principal, Role, require
from shared.errors import BusinessRuleError
from shared.http import not_found
from shared.runtime import ServiceContext, service_context
from shared.fields import IDENTIFIER_PATTERN

router = APIRouter()

FileUser = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR))]
FunnelUser = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR, Role.OPS))]
Context = Annotated[ServiceContext, Depends(service_context)]


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] = Field(default_factory=list, description="`field`, `rule` and `message` of each error.")
    trace_id: str | None = None


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "Missing, invalid or expired bearer token (`Authorization`).",
        403: "The caller's role may not do this.",
        404: "No such file in the caller's association.",
        409: "The file's state does not allow this.",
        422: "Invalid input: the problem names the field and the rule.",
    }
    return {s: {"model": ProblemDocument, "description": meaning[s]} for s in statuses}


class ApplicationSummary(BaseModel):
    """A line of a file list."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    status: domain.Status
    counsellor_id: str
    region: str
    branch_id: str | None
    applicant_name: str
    purpose: str | None
    amount_cents: int | None
    duration_months: int | None
    checklist_complete: bool
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None


class AuditLine(BaseModel):
    """Who did what to a file, and when."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    actor_subject: str = Field(description="The token's subject, or the service whose event moved the file.")
    actor_role: str = Field(description="counsellor, supervisor, or service.")
    action: str = Field(description="opened, edited, submitted, withdrawn, or a step reported by assessment.")
    details: dict[str, Any]


def _actor(principal: Principal) -> domain.Actor:
    return domain.Actor(subject=principal.subject, role=principal.role.value)


def _summary(a: domain.Application) -> ApplicationSummary:
    return ApplicationSummary(
        **a.model_dump(include={"id", "status", "counsellor_id", "region", "branch_id", "amount_cents", "duration_months",
                                "checklist_complete", "created_at", "updated_at", "submitted_at"}),
        applicant_name=a.applicant.full_name,
        purpose=a.project.purpose.value if a.project else None,
    )


async def _change(
    ctx: ServiceContext,
    principal: Principal,
    application_id: UUID,
    decide: Callable[[domain.Application, datetime], domain.Change | None],
) -> domain.Application:
    now = ctx.clock.now()
    # Another association's file answers exactly like an unknown one: its existence is not disclosed.
    changed = await service.change_file(
        ctx.pool, application_id, principal.association_id or "", lambda current: decide(current, now)
    )
    if changed is None:
        raise not_found("application", application_id)
    return changed


@router.post(
    "/applications",
    status_code=201,
    response_model=domain.Application,
    tags=["applications"],
    summary="Open a file (draft)",
    responses=_problems(401, 403, 422),
)
async def open_application(
    body: domain.FileContent, principal: FileUser, response: Response, ctx: Context
) -> domain.Application:
    """A draft in the caller's association and region (from the token); counsellors file under their own name."""
    if not principal.region:
        raise BusinessRuleError("the bearer token names no region to file under", field="Authorization", rule="token_region", status=403)
    change = domain.open_file(
        body,
        application_id=uuid4(),
        association_id=principal.association_id or "",
        region=principal.region,
        actor=_actor(principal),
        now=ctx.clock.now(),
    )
    application = await service.open_file(ctx.pool, change)
    response.headers["Location"] = f"/applications/{application.id}"
    return application


@router.get(
    "/applications",
    response_model=list[ApplicationSummary],
    tags=["applications"],
    summary="List files",
    responses=_problems(401, 403, 422),
)
async def list_applications(
    principal: FileUser,
    ctx: Context,
    status: domain.Status | None = Query(None, description="Only files in this status."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[ApplicationSummary]:
    """Newest first: a counsellor's own files, a supervisor's association's."""
    files = await repository.list_files(
        ctx.pool,
        association_id=principal.association_id or "",
        counsellor_id=principal.subject if principal.role is Role.COUNSELLOR else None,
        status=status,
        limit=limit,
        offset=offset,
    )
    return [_summary(f) for f in files]


@router.get(
    "/applications/{application_id}",
    response_model=domain.Application,
    tags=["applications"],
    summary="Read a file",
    responses=_problems(401, 403, 404, 422),
)
async def get_application(application_id: UUID, principal: FileUser, ctx: Context) -> domain.Application:
    """The whole file with its checklist, budget totals and status."""
    application = await repository.get(ctx.pool, application_id, association_id=principal.association_id)
    if application is None:
        raise not_found("application", application_id)
    return application


@router.patch(
    "/applications/{application_id}",
    response_model=domain.Application,
    tags=["applications"],
    summary="Edit a file",
    responses=_problems(401, 403, 404, 409, 422),
)
async def edit_application(
    application_id: UUID, body: domain.FileChanges, principal: FileUser, ctx: Context
) -> domain.Application:
    """Each field given replaces that part, documents merge by kind; after submission publishes `application updated`."""
    return await _change(ctx, principal, application_id, lambda a, now: domain.edit_file(a, body, _actor(principal), now))


@router.post(
    "/applications/{application_id}/submission",
    response_model=domain.Application,
    tags=["applications"],
    summary="Submit a file",
    responses=_problems(401, 403, 404, 409, 422),
)
async def submit_application(
    application_id: UUID, body: domain.Submission, principal: FileUser, ctx: Context
) -> domain.Application:
    """Needs the checklist complete, or an `incomplete_reason`; publishes `application submitted`."""
    return await _change(ctx, principal, application_id, lambda a, now: domain.submit_file(a, body, _actor(principal), now))


@router.post(
    "/applications/{application_id}/withdrawal",
    response_model=domain.Application,
    tags=["applications"],
    summary="Record the applicant's withdrawal",
    responses=_problems(401, 403, 404, 409, 422),
)
async def withdraw_application(
    application_id: UUID, body: domain.Withdrawal, principal: FileUser, ctx: Context
) -> domain.Application:
    """Until the bank decides (409 after); a submitted file publishes `application withdrawn`."""
    return await _change(ctx, principal, application_id, lambda a, now: domain.withdraw_file(a, body, _actor(principal), now))


@router.get(
    "/applications/{application_id}/audit",
    response_model=list[AuditLine],
    tags=["applications"],
    summary="A file's audit trail",
    responses=_problems(401, 403, 404, 422),
)
async def get_audit_trail(application_id: UUID, principal: FileUser, ctx: Context) -> list[AuditLine]:
    """Every change of the file, oldest first, with who made it and when."""
    if await repository.get(ctx.pool, application_id, association_id=principal.association_id) is None:
        raise not_found("application", application_id)
    return [AuditLine(**line) for line in await repository.audit_trail(ctx.pool, application_id)]


@router.get(
    "/funnel",
    response_model=domain.Funnel,
    tags=["funnel"],
    summary="The funnel per association and region",
    responses=_problems(401, 403, 422),
)
async def get_funnel(
    principal: FunnelUser,
    ctx: Context,
    start: date = Query(alias="from", description="First day (UTC), included."),
    end: date = Query(alias="to", description="Last day (UTC), included."),
    association_id: str | None = Query(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN),
    region: str | None = Query(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN),
) -> domain.Funnel:
    """Files opened, submitted, assessed favourable, routed, approved, declined, withdrawn, by the day each happened.

    Counsellors and supervisors see their association; ops every association (counts only, no personal data).
    """
    domain.check_period(start, end)
    if principal.role is not Role.OPS:
        if association_id not in (None, principal.association_id):
            raise BusinessRuleError(
                "the funnel of another association is not yours to see",
                field="query.association_id",
                rule="other_association",
                status=403,
            )
        association_id = principal.association_id
    rows = await repository.funnel_rows(ctx.pool, start, end, association_id=association_id, region=region)
    return domain.funnel(start, end, rows)
