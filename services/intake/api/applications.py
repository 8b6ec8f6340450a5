"""The files: a counsellor or supervisor opens, lists, reads, edits, submits and withdraws them; their audit trail.

Another association's file answers exactly like an unknown one (404): its existence is not disclosed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake import domain, repository, usecases
from services.intake.api.common import Context
from shared.auth import Actor, AssociationStaff, Role
from shared.errors import BusinessRuleError
from shared.http import PageQuery, not_found
from shared.openapi import problems

router = APIRouter(tags=["applications"])


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

    @classmethod
    def of(cls, a: domain.Application) -> ApplicationSummary:
        """The list line of a file."""
        return cls(
            **a.model_dump(include={"id", "status", "counsellor_id", "region", "branch_id", "amount_cents",
                                    "duration_months", "checklist_complete", "created_at", "updated_at", "submitted_at"}),
            applicant_name=a.applicant.full_name,
            purpose=a.project.purpose.value if a.project else None,
        )


class AuditLine(BaseModel):
    """Who did what to a file, and when."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    actor_subject: str = Field(description="The token's subject, or the service whose event moved the file.")
    actor_role: str = Field(description="counsellor, supervisor, or service.")
    action: str = Field(description="opened, edited, submitted, withdrawn, or a step reported by assessment.")
    details: dict[str, Any]


def _theirs(application: domain.Application | None, application_id: UUID) -> domain.Application:
    if application is None:
        raise not_found("application", application_id)
    return application


@router.post(
    "/applications",
    status_code=201,
    response_model=domain.Application,
    summary="Open a file (draft)",
    responses={201: {"headers": {"Location": {"description": "The new file's URL.", "schema": {"type": "string"}}}}},
)
async def open_application(
    body: domain.FileContent, principal: AssociationStaff, response: Response, ctx: Context
) -> domain.Application:
    """A draft in the caller's association and region (from the token); counsellors file under their own name."""
    if not principal.region:
        raise BusinessRuleError("the bearer token names no region to file under", field="Authorization", rule="token_region", status=403)
    async with ctx.pool.acquire() as conn:
        application = await usecases.open_file(
            conn, body, application_id=uuid4(), association_id=principal.association_id or "", region=principal.region,
            actor=Actor.of(principal), now=ctx.clock.now(),
        )
    response.headers["Location"] = f"/applications/{application.id}"
    return application


@router.get("/applications", response_model=list[ApplicationSummary], summary="List files")
async def list_applications(
    principal: AssociationStaff,
    ctx: Context,
    page: PageQuery,
    status: domain.Status | None = Query(None, description="Only files in this status."),
) -> list[ApplicationSummary]:
    """Newest first: a counsellor's own files, a supervisor's association's."""
    files = await repository.list_files(
        ctx.pool,
        association_id=principal.association_id or "",
        counsellor_id=principal.subject if principal.role is Role.COUNSELLOR else None,
        status=status,
        limit=page.limit,
        offset=page.offset,
    )
    return [ApplicationSummary.of(f) for f in files]


@router.get("/applications/{application_id}", response_model=domain.Application, summary="Read a file")
async def get_application(application_id: UUID, principal: AssociationStaff, ctx: Context) -> domain.Application:
    """The whole file with its checklist, budget totals and status."""
    return _theirs(await repository.get(ctx.pool, application_id, association_id=principal.association_id), application_id)


@router.patch(
    "/applications/{application_id}", response_model=domain.Application, summary="Edit a file", responses=problems(409)
)
async def edit_application(
    application_id: UUID, body: domain.FileChanges, principal: AssociationStaff, ctx: Context
) -> domain.Application:
    """Each field given replaces that part, documents merge by kind; after submission publishes `application updated`."""
    async with ctx.pool.acquire() as conn:
        edited = await usecases.edit_file(
            conn, application_id, body, association_id=principal.association_id or "", actor=Actor.of(principal),
            now=ctx.clock.now(),
        )
    return _theirs(edited, application_id)


@router.post(
    "/applications/{application_id}/submission",
    response_model=domain.Application,
    summary="Submit a file",
    responses=problems(409),
)
async def submit_application(
    application_id: UUID, body: domain.Submission, principal: AssociationStaff, ctx: Context
) -> domain.Application:
    """Needs the checklist complete, or an `incomplete_reason`; publishes `application submitted`."""
    async with ctx.pool.acquire() as conn:
        submitted = await usecases.submit_file(
            conn, application_id, body, association_id=principal.association_id or "", actor=Actor.of(principal),
            now=ctx.clock.now(),
        )
    return _theirs(submitted, application_id)


@router.post(
    "/applications/{application_id}/withdrawal",
    response_model=domain.Application,
    summary="Record the applicant's withdrawal",
    responses=problems(409),
)
async def withdraw_application(
    application_id: UUID, body: domain.Withdrawal, principal: AssociationStaff, ctx: Context
) -> domain.Application:
    """Until the bank decides (409 after); a submitted file publishes `application withdrawn`."""
    async with ctx.pool.acquire() as conn:
        withdrawn = await usecases.withdraw_file(
            conn, application_id, body, association_id=principal.association_id or "", actor=Actor.of(principal),
            now=ctx.clock.now(),
        )
    return _theirs(withdrawn, application_id)


@router.get("/applications/{application_id}/audit", response_model=list[AuditLine], summary="A file's audit trail")
async def get_audit_trail(application_id: UUID, principal: AssociationStaff, ctx: Context) -> list[AuditLine]:
    """Every change of the file, oldest first, with who made it and when."""
    _theirs(await repository.get(ctx.pool, application_id, association_id=principal.association_id), application_id)
    return [AuditLine(**line) for line in await repository.audit_trail(ctx.pool, application_id)]
