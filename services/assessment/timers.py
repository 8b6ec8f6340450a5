"""The service's timer: raise `bank decision overdue` for the files a bank has left waiting too long."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from services.assessment import usecases
from services.assessment.settings import AssessmentSettings
from shared.runtime import ServiceContext
from shared.timers import Timer


class OverdueRun(BaseModel):
    """What one run of the overdue timer did."""

    bank_decisions_overdue: int = Field(description="`bank decision overdue` events raised.")


async def raise_overdue_bank_decisions(ctx: ServiceContext[AssessmentSettings]) -> OverdueRun:
    """One run at the clock's current instant."""
    after = timedelta(days=ctx.settings.bank_decision_overdue_days)
    return OverdueRun(bank_decisions_overdue=await usecases.raise_overdue(ctx.pool, ctx.clock.now(), after=after))


TIMERS = (
    Timer(
        name="bank_decision_overdue",
        interval=lambda settings: settings.timer_interval_seconds,
        run=raise_overdue_bank_decisions,
        report=OverdueRun,
    ),
)
