"""The service's timer: raise `bank decision overdue` for the files a bank has left waiting too long."""

from __future__ import annotations

from datetime import timedelta

from services.assessment import usecases
from services.assessment.settings import AssessmentSettings
from shared.runtime import ServiceContext


async def raise_overdue_bank_decisions(ctx: ServiceContext) -> int:
    """One run at the clock's current instant; returns how many `bank decision overdue` were raised."""
    settings = ctx.settings
    assert isinstance(settings, AssessmentSettings)
    return await usecases.raise_overdue(ctx.pool, ctx.clock.now(), after=timedelta(days=settings.bank_decision_overdue_days))
