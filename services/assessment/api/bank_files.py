"""The partner banks: the files routed to them, without the social diagnostic, and their decision on each.

A bank sees a file once it is routed to it; any other file answers 404 like an unknown one. The decision
is the same use case as a decision on the bank's topic, with the same answers (see `usecases.record_bank_decision`).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.assessment import repository, usecases
from services.assessment.api.common import Context
from services.assessment.domain import access
from services.assessment.domain.assessment import Assessment, Status
from services.assessment.domain.decision import BankDecisionTerms, NotRoutedToBank
from shared.auth import Actor, PartnerBank
from shared.fields import ShownRate
from shared.http import PageQuery, not_found
from shared.openapi import problems

router = APIRouter(tags=["bank"])


class FileContact(BaseModel):
    """Who follows the file at the association."""

    association_id: str
    region: str
    branch_id: str | None
    counsellor_id: str
    contact: str | None = Field(description="The association's contact for partner banks.")


class BankDecisionView(BaseModel):
    """The bank's own decision on the file."""

    decision: str
    amount_cents: int | None
    annual_rate: ShownRate | None
    duration_months: int | None
    first_due_date: date | None
    guarantee_share: ShownRate | None
    guaranteed_amount_cents: int | None
    reason: str | None
    decided_at: datetime | None


class BankFile(BaseModel):
    """A file as its partner bank sees it: what a credit decision needs, and no social diagnostic."""

    model_config = ConfigDict(frozen=True)

    application_id: UUID
    applicant_name: str | None
    birth_date: date | None
    purpose: str
    amount_cents: int = Field(description="Proposed amount.")
    duration_months: int = Field(description="Proposed duration.")
    annual_rate: ShownRate = Field(description="Proposed nominal annual rate.")
    status: Status
    routed_at: datetime
    association: FileContact
    decision: BankDecisionView | None

    @classmethod
    def of(cls, a: Assessment, contact: str | None) -> BankFile:
        """The bank's view of a routed file."""
        assert a.routed_at and a.proposed_amount_cents and a.proposed_duration_months and a.proposed_annual_rate is not None
        return cls(
            application_id=a.application_id, applicant_name=a.applicant_name, birth_date=a.birth_date, purpose=a.purpose,
            amount_cents=a.proposed_amount_cents, duration_months=a.proposed_duration_months,
            annual_rate=a.proposed_annual_rate,
            status=a.status, routed_at=a.routed_at,
            association=FileContact(association_id=a.association_id, region=a.region, branch_id=a.branch_id,
                                    counsellor_id=a.counsellor_id, contact=contact),
            decision=BankDecisionView(
                decision=a.decision, amount_cents=a.approved_amount_cents, annual_rate=a.approved_annual_rate,
                duration_months=a.approved_duration_months, first_due_date=a.first_due_date,
                guarantee_share=a.guarantee_share,
                guaranteed_amount_cents=a.guaranteed_amount_cents, reason=a.decision_reason, decided_at=a.decided_at,
            ) if a.decision else None,
        )


async def _bank_files(ctx: Context, files: list[Assessment]) -> list[BankFile]:
    # The association's contact as the directory says it now (assessment's copy).
    contacts = await repository.bank_contacts(ctx.pool, {f.association_id for f in files})
    return [BankFile.of(f, contacts.get(f.association_id)) for f in files]


async def _bank_file(ctx: Context, file: Assessment) -> BankFile:
    [shown] = await _bank_files(ctx, [file])
    return shown


@router.get("/bank/files", response_model=list[BankFile], summary="Files routed to the bank")
async def bank_files(principal: PartnerBank, ctx: Context, page: PageQuery, status: Status | None = None) -> list[BankFile]:
    """The files routed to the calling bank, oldest routing first; `?status=routed`: those awaiting its decision."""
    files = await repository.routed_to(
        ctx.pool, principal.bank_id or "", status=status, limit=page.limit, offset=page.offset
    )
    return await _bank_files(ctx, files)


@router.get("/bank/files/{application_id}", response_model=BankFile, summary="Read a routed file")
async def bank_file(application_id: UUID, principal: PartnerBank, ctx: Context) -> BankFile:
    """What the bank needs to decide: applicant, proposed terms, purpose, who follows the file."""
    file = await repository.get(ctx.pool, application_id)
    if file is None or not access.bank_sees(principal, file):
        raise not_found("file", application_id)
    return await _bank_file(ctx, file)


@router.post(
    "/bank/files/{application_id}/decision", response_model=BankFile, summary="Decide on a routed file",
    responses=problems(409),
)
async def bank_decision(application_id: UUID, body: BankDecisionTerms, principal: PartnerBank, ctx: Context) -> BankFile:
    """Approve (final terms, FCS guarantee 50 %) or decline (reason): publishes `loan approved` or `loan declined`.

    The same decision sent again changes nothing and answers the file as it is; another decision once
    the bank decided answers 409.
    """
    try:
        async with ctx.pool.acquire() as conn:  # one statement of its own, no transaction around it (`usecases._command`)
            decided = await usecases.record_bank_decision(
                conn, application_id, body, bank_id=principal.bank_id or "", actor=Actor.of(principal),
                settings=ctx.settings, now=ctx.clock.now(), channel="http",
            )
    except NotRoutedToBank:
        raise not_found("file", application_id) from None
    return await _bank_file(ctx, decided)
