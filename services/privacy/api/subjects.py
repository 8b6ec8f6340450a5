"""Data subjects: where a file stands for the retention rules, and the person's rights to erasure and restriction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.privacy import repository, usecases
from services.privacy.api.common import Context, Dpo
from services.privacy.domain import Subject, erasure_decision, governing_rule
from services.privacy.domain.ledger import retention_ends_on
from shared.clock import business_day
from shared.http import ProblemDocument, not_found, problem_response
from shared.privacy.retention import in_force, load_rules, reasons

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])


class RuleView(BaseModel):
    """The retention rule in force for the subject."""

    id: str
    since: date
    keep: str = Field(description="ISO 8601 period, counted from `starts_from`.")
    then: str = Field(description="erase, anonymise or keep.")
    starts_from: str
    legal_reason: str = Field(description="Why, in French, as the information notice prints it.")


class ErasureView(BaseModel):
    """What was done to the subject's data."""

    erased_at: datetime
    kind: Literal["erase", "anonymise"]
    rule: str = Field(description="The retention rule, or `request` for the person's request.")
    run_date: date | None = Field(description="The retention run that did it; null: at the person's request.")
    requested_by: str | None
    key_destroyed: bool = Field(description="False when the subject never had a data key (nothing sealed was ever written).")


class SubjectView(BaseModel):
    """A data subject (the applicant of one file): no personal data, only what the rules need."""

    subject_id: UUID = Field(description="The file's application_id.")
    association_id: str
    region: str
    status: str
    loan_id: UUID | None
    last_activity_at: datetime
    approved_at: datetime | None
    ended_on: date | None = Field(description="The loan's closure or write-off.")
    restricted: bool
    restricted_at: datetime | None
    rule: RuleView
    retention_ends_on: date | None = Field(description="The first day the data may no longer be kept; null: kept for now.")
    erasable: bool = Field(description="Whether the person's request for erasure would be granted now.")
    erasable_reason: str = Field(description="Why, in French.")
    erasure: ErasureView | None


class ErasureDone(BaseModel):
    """The answer to a granted request for erasure."""

    subject_id: UUID
    done: str = Field(description="What was done, in French.")
    erasure: ErasureView


async def _view(ctx: Context, subject: Subject) -> SubjectView:
    rules = load_rules(ctx.settings.retention_rules)
    day = business_day(ctx.clock.now())
    explain = reasons(rules, day)
    rule = explain[governing_rule(subject)]
    decision = erasure_decision(subject, explain)
    erasure = await repository.erasure(ctx.pool, subject.subject_id)
    return SubjectView(
        **{k: getattr(subject, k) for k in (
            "subject_id", "association_id", "region", "loan_id", "last_activity_at", "approved_at", "ended_on", "restricted_at")},
        status=subject.status.value,
        restricted=subject.restricted_at is not None,
        rule=RuleView(**{k: getattr(rule, k) for k in RuleView.model_fields}),
        retention_ends_on=retention_ends_on(subject, in_force(rules, day) or explain),
        erasable=decision.allowed and subject.erased_at is None,
        erasable_reason="Les données de la personne sont déjà effacées." if subject.erased_at else decision.reason,
        erasure=ErasureView(**erasure) if erasure else None,
    )


async def _subject(ctx: Context, subject_id: UUID) -> Subject:
    subject = await repository.get(ctx.pool, subject_id)
    if subject is None:
        raise not_found("subject", subject_id)
    return subject


@router.get("/{application_id}", response_model=SubjectView, summary="Read a data subject's ledger row")
async def get_subject(application_id: UUID, _dpo: Dpo, ctx: Context) -> SubjectView:
    """Where the file stands, the retention rule in force, when it ends, and whether erasure would be granted and why."""
    return await _view(ctx, await _subject(ctx, application_id))


@router.post(
    "/{application_id}/erasure", response_model=ErasureDone, summary="Erase a person's data at their request",
    responses={409: {"model": ProblemDocument, "description": "Refused by law (an active loan): the rule and its legal reason."}},
)
async def erase(application_id: UUID, dpo: Dpo, ctx: Context) -> Any:
    """RGPD art. 17: granted unless a loan runs; the key is destroyed and every service erases or anonymises the file.

    Asked again once granted, the answer is the same erasure (nothing is done twice).
    """
    rules = load_rules(ctx.settings.retention_rules)
    now = ctx.clock.now()
    subject, decision = await usecases.request_erasure(
        ctx.pool, ctx.settings.keyring(), application_id, reasons(rules, business_day(now)), by=dpo.subject, now=now,
    )
    if subject is None or decision is None:
        raise not_found("subject", application_id)
    if not decision.allowed:
        return problem_response(
            409, "Erasure refused",
            "L'effacement est refusé tant que le prêt court ; la limitation du traitement reste possible.",
            errors=[{"field": "path.application_id", "rule": decision.rule, "message": decision.reason}],
            rule=decision.rule, legal_reason=decision.reason,
        )
    erasure = await repository.erasure(ctx.pool, application_id)
    assert erasure is not None
    return ErasureDone(subject_id=application_id, done=decision.reason, erasure=ErasureView(**erasure))


async def _restrict(ctx: Context, application_id: UUID, *, restricted: bool, by: str) -> SubjectView:
    subject = await usecases.restrict(ctx.pool, application_id, restricted=restricted, by=by, now=ctx.clock.now())
    if subject is None:
        raise not_found("subject", application_id)
    return await _view(ctx, subject)


@router.put("/{application_id}/restriction", response_model=SubjectView, summary="Restrict the processing of a person's data")
async def restrict(application_id: UUID, dpo: Dpo, ctx: Context) -> SubjectView:
    """RGPD art. 18: the file is kept but intake no longer lets anyone change it; the retention job holds it past its
    period until the restriction is lifted (`person restricted` tells the services)."""
    return await _restrict(ctx, application_id, restricted=True, by=dpo.subject)


@router.delete("/{application_id}/restriction", response_model=SubjectView, summary="Lift the restriction")
async def lift(application_id: UUID, dpo: Dpo, ctx: Context) -> SubjectView:
    """The restriction ends: the file can change again and the retention rules apply again."""
    return await _restrict(ctx, application_id, restricted=False, by=dpo.subject)
