"""Assessment HTTP API: the counsellors' review, the partner banks' files and decisions, the ops timers.

Every route needs a bearer token. A file another association (or, for a bank, not routed to it) owns
answers 404, exactly like an unknown one.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.assessment import access, decision, domain, outcome, repository, usecases
from services.assessment.policy import policy_for, usury_table
from services.assessment.settings import AssessmentSettings
from services.assessment.views import BankFile, QueueItem
from shared.auth import Principal, Role, require
from shared.http import not_found
from shared.runtime import ServiceContext, service_context

router = APIRouter()
Counselling = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR))]
Bank = Annotated[Principal, Depends(require(Role.BANK))]
Ops = Annotated[Principal, Depends(require(Role.OPS))]
Context = Annotated[ServiceContext, Depends(service_context)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


def settings_of(ctx: ServiceContext) -> AssessmentSettings:
    """The service's own settings."""
    assert isinstance(ctx.settings, AssessmentSettings)
    return ctx.settings


async def _visible_file(ctx: ServiceContext, application_id: UUID, principal: Principal) -> domain.Assessment:
    file = await repository.get(ctx.pool, application_id)
    if file is None or not access.association_sees(principal, file):
        raise not_found("assessment", application_id)
    return file


# --- counsellors and supervisors ------------------------------------------------------------------


@router.get("/assessments", response_model=list[QueueItem], tags=["review"], summary="Review queue")
async def review_queue(
    principal: Counselling, ctx: Context, status: domain.Status | None = None, limit: Limit = 50, offset: Offset = 0
) -> list[QueueItem]:
    """A counsellor's own files, a supervisor's whole association; oldest first, e.g. `?status=pending_review`."""
    assert principal.association_id
    files = await repository.queue(
        ctx.pool, association_id=principal.association_id, counsellor_id=access.queue_owner(principal),
        status=status, limit=limit, offset=offset,
    )
    return [QueueItem.of(f) for f in files]


@router.get(
    "/assessments/{application_id}", response_model=domain.Assessment, tags=["review"], summary="Read a file's assessment"
)
async def get_assessment(application_id: UUID, principal: Counselling, ctx: Context) -> domain.Assessment:
    """The file, its budget diagnostic and checks, the FICP consultation, the outcome and the bank's decision."""
    return await _visible_file(ctx, application_id, principal)


@router.get(
    "/assessments/{application_id}/audit", response_model=list[domain.AuditEntry], tags=["review"], summary="Audit trail"
)
async def get_audit_trail(application_id: UUID, principal: Counselling, ctx: Context) -> list[domain.AuditEntry]:
    """Every change of the file's state: what, who and when."""
    await _visible_file(ctx, application_id, principal)
    return await repository.audit_trail(ctx.pool, application_id)


async def _change(
    ctx: ServiceContext, application_id: UUID, principal: Principal, decide: usecases.Decide
) -> domain.Assessment:
    updated = await usecases.change_file(
        ctx.pool, application_id, visible=lambda a: access.association_sees(principal, a), decide=decide
    )
    if updated is None:
        raise not_found("assessment", application_id)
    return updated


@router.post(
    "/assessments/{application_id}/ficp", response_model=domain.Assessment, tags=["review"],
    summary="Record the FICP consultation",
)
async def record_ficp(
    application_id: UUID, body: domain.FicpRecord, principal: Counselling, ctx: Context
) -> domain.Assessment:
    """Date and result of the FICP consultation (Code de la consommation L.312-16), required before routing."""
    settings, now = settings_of(ctx), ctx.clock.now()
    return await _change(
        ctx, application_id, principal,
        lambda a: domain.record_ficp(a, body, policy_for(settings, a.association_id), access.actor(principal), now),
    )


@router.post(
    "/assessments/{application_id}/outcome", response_model=domain.Assessment, tags=["review"], summary="Record the outcome"
)
async def record_outcome(
    application_id: UUID, body: outcome.Outcome, principal: Counselling, ctx: Context
) -> domain.Assessment:
    """Favourable (routes to the partner bank), unfavourable (reasons, orientation) or incomplete (missing items)."""
    settings, now = settings_of(ctx), ctx.clock.now()
    return await _change(
        ctx, application_id, principal,
        lambda a: outcome.record_outcome(a, body, policy_for(settings, a.association_id), access.actor(principal), now),
    )


# --- partner banks --------------------------------------------------------------------------------


def _bank_file(ctx: ServiceContext, file: domain.Assessment) -> BankFile:
    return BankFile.of(file, settings_of(ctx).association_contacts.get(file.association_id))


@router.get("/bank/files", response_model=list[BankFile], tags=["bank"], summary="Files routed to the bank")
async def bank_files(
    principal: Bank, ctx: Context, status: domain.Status | None = None, limit: Limit = 50, offset: Offset = 0
) -> list[BankFile]:
    """The files routed to the calling bank, oldest routing first; `?status=routed`: those awaiting its decision."""
    assert principal.bank_id
    files = await repository.routed_to(ctx.pool, principal.bank_id, status=status, limit=limit, offset=offset)
    return [_bank_file(ctx, f) for f in files]


@router.get("/bank/files/{application_id}", response_model=BankFile, tags=["bank"], summary="Read a routed file")
async def bank_file(application_id: UUID, principal: Bank, ctx: Context) -> BankFile:
    """What the bank needs to decide: applicant, proposed terms, purpose, who follows the file."""
    file = await repository.get(ctx.pool, application_id)
    if file is None or not access.bank_sees(principal, file):
        raise not_found("file", application_id)
    return _bank_file(ctx, file)


@router.post(
    "/bank/files/{application_id}/decision", response_model=BankFile, tags=["bank"], summary="Decide on a routed file"
)
async def bank_decision(
    application_id: UUID, body: decision.BankDecisionTerms, principal: Bank, ctx: Context
) -> BankFile:
    """Approve (final terms, FCS guarantee 50 %) or decline (reason): publishes `loan approved` or `loan declined`."""
    assert principal.bank_id
    bank_id, usury, now = principal.bank_id, usury_table(settings_of(ctx).usury_caps_path), ctx.clock.now()
    updated = await usecases.change_file(
        ctx.pool, application_id, visible=lambda a: access.bank_sees(principal, a),
        decide=lambda a: decision.record_bank_decision(
            a, bank_id, body, usury, access.actor(principal), now, channel="http"
        ),
    )
    if updated is None:
        raise not_found("file", application_id)
    return _bank_file(ctx, updated)
