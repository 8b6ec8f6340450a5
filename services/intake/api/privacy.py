"""The DPO's access to intake: find a person's files by name and birth date, and everything intake holds about one."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, Field

from services.intake import repository
from services.intake.api.common import Context
from shared.auth import Dpo
from shared.errors import BusinessRuleError
from shared.fields import FREE_TEXT_PATTERN
from shared.privacy.access import access_router

router = access_router("intake", repository.subject_records)


class SubjectFound(BaseModel):
    """One file whose applicant matches the search: one data subject."""

    application_id: UUID = Field(description="The data subject's id (one per file).")
    applicant_name: str
    birth_date: date | None = None
    association_id: str
    region: str
    counsellor_id: str
    status: str
    created_at: datetime
    updated_at: datetime


@router.get("/v1/privacy/subjects", response_model=list[SubjectFound], summary="Find a person's files (DPO)")
async def find_subjects(
    principal: Dpo,
    ctx: Context,
    name: str | None = Query(
        None, min_length=2, max_length=200, pattern=FREE_TEXT_PATTERN, description="Words of the applicant's name, any case, any order."
    ),
    birth_date: date | None = Query(None, description="The applicant's birth date."),
    limit: int = Query(50, ge=1, le=200),
) -> list[SubjectFound]:
    """Every file (of any association) whose applicant's name has every word of `name` and, when given, was born on `birth_date`.

    A person with two files is two data subjects: both are listed. At least one criterion is needed."""
    if not (name and name.strip()) and birth_date is None:
        raise BusinessRuleError("give a name or a birth date to search by", field="query.name", rule="criterion_required", status=422)
    found = await repository.find_subjects(ctx.pool, name=name, birth_date=birth_date, limit=limit)
    return [SubjectFound.model_validate(row) for row in found]
