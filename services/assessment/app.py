"""Assessment service assembly."""

from __future__ import annotations

from pathlib import Path

from services.assessment.api import router
from services.assessment.handlers import register
from services.assessment.settings import AssessmentSettings
from services.assessment.timers import raise_overdue_bank_decisions
from shared.runtime import ServiceDefinition, every

DEFINITION = ServiceDefinition(
    name="assessment",
    title="Microcredit assessment",
    description="Budget diagnostic and checks, counsellor review, routing to a partner bank and the bank's decision.",
    schema="assessment",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=AssessmentSettings,
    register_consumers=register,
    background_tasks=(every("timer_interval_seconds", raise_overdue_bank_decisions),),
)

create_app = DEFINITION.create_app
