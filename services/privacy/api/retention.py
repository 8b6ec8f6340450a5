"""The retention runs: what each day's run erased or anonymised, and by which rule."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from services.privacy import repository
from services.privacy.api.common import Context, DpoOrOps
from shared.fields import Day
from shared.http import PAGED, TOTAL_COUNT, PageQuery, not_found

router = APIRouter(prefix="/v1/retention", tags=["retention"])


class RunView(BaseModel):
    """One day's retention run."""

    run_date: date
    status: Literal["running", "finished"]
    started_at: datetime
    finished_at: datetime | None
    passes: int = Field(description="How many times the run was started for its day (resumed, or run again).")
    chunks: int
    reviewed: int = Field(description="Subjects gone through, over every pass.")
    erased: int
    anonymised: int
    held: int = Field(description="Due, but restricted: kept until the restriction is lifted.")
    rules: dict[str, dict[str, str]] = Field(description="The entries in force that day: id → since, keep, then.")


class RunSubject(BaseModel):
    """One subject a run erased or anonymised (no personal data: the ids and the rule)."""

    subject_id: UUID
    association_id: str
    region: str
    kind: Literal["erase", "anonymise"]
    rule: str
    erased_at: datetime
    key_destroyed: bool


class RunReport(RunView):
    """A run and each subject it erased or anonymised."""

    subjects: list[RunSubject]


@router.get("/runs", response_model=list[RunView], summary="List the retention runs", responses=PAGED)
async def list_runs(_who: DpoOrOps, ctx: Context, page: PageQuery, response: Response) -> list[dict[str, Any]]:
    """Every day the retention job ran, newest first, with what it did."""
    runs, total = await repository.runs(ctx.pool, limit=page.limit, offset=page.offset)
    response.headers[TOTAL_COUNT] = str(total)
    return runs


@router.get("/runs/{run_date}", response_model=RunReport, summary="Read a retention run's report")
async def get_run(run_date: Day, _who: DpoOrOps, ctx: Context) -> dict[str, Any]:
    """One day's run and every subject it erased or anonymised, by which rule."""
    run = await repository.run(ctx.pool, run_date)
    if run is None:
        raise not_found("retention run", run_date)
    return run
