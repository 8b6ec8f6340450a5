"""Servicing service assembly: its routes, its consumers and its close-of-business metrics."""

from __future__ import annotations

from pathlib import Path

from services.servicing.api import router
from services.servicing.handlers import register
from services.servicing.metrics import CloseOfBusinessMetrics
from services.servicing.settings import ServicingSettings
from shared import events
from shared.runtime import ServiceContext, ServiceDefinition


def _start(ctx: ServiceContext[ServicingSettings]) -> None:
    CloseOfBusinessMetrics.register(ctx.registry)
    register(ctx)


DEFINITION = ServiceDefinition(
    name="servicing",
    title="Microcredit loan servicing",
    description="Loans, schedules, disbursements, payments and the close of business.",
    schema="servicing",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=ServicingSettings,
    register_consumers=_start,
    publishes=(
        events.LoanDisbursed,
        events.PaymentReceived,
        events.PaymentReversed,
        events.PaymentMissed,
        events.DelinquencyStageChanged,
        events.AdjustmentRequested,
        events.AdjustmentRefused,
        events.LoanRescheduled,
        events.LoanWrittenOff,
        events.LoanClosed,
    ),
)

create_app = DEFINITION.create_app
