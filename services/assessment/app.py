"""Assessment service assembly."""

from __future__ import annotations

from pathlib import Path

from services.assessment.api import router
from services.assessment.handlers import register
from services.assessment.settings import AssessmentSettings
from services.assessment.timers import TIMERS
from shared.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="assessment",
    title="Microcredit assessment",
    description="Budget diagnostic and checks, counsellor review, routing to a partner bank and the bank's decision.",
    schema="assessment",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=AssessmentSettings,
    register_consumers=register,
    timers=TIMERS,
)

create_app = DEFINITION.create_app
