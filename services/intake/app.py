"""Intake service assembly."""

from __future__ import annotations

from pathlib import Path

from services.intake.api import router
from services.intake.handlers import register
from services.intake.retention import AbandonedDrafts, erase_abandoned_drafts
from services.intake.settings import IntakeSettings
from shared import events
from shared.runtime import ServiceDefinition
from shared.timers import Timer

DEFINITION = ServiceDefinition(
    name="intake",
    title="Microcredit intake",
    description="Counsellors log first contacts and build microcredit files (drafts, documents checklist, submission, withdrawal); the funnel.",
    schema="intake",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=IntakeSettings,
    register_consumers=register,
    postgres_statistics=True,  # the database's connections and size, for every service (one reports them)
    publishes=(events.ApplicationSubmitted, events.ApplicationUpdated, events.ApplicationWithdrawn),
    timers=(Timer("abandoned_drafts", lambda s: s.retention_interval_seconds, erase_abandoned_drafts, AbandonedDrafts),),
)

create_app = DEFINITION.create_app
