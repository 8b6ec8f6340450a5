"""Notifications service assembly."""

from __future__ import annotations

from pathlib import Path

from services.notifications.api import router
from services.notifications.handlers import register
from services.notifications.settings import NotificationsSettings
from services.notifications.timers import TIMERS
from shared.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="notifications",
    title="Microcredit notifications",
    description=(
        "Counsellor and supervisor alerts raised from what happens to files and loans, delivered by e-mail; "
        "signed webhooks for partner banks."
    ),
    schema="notifications",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=NotificationsSettings,
    register_consumers=register,
    timers=TIMERS,
)

create_app = DEFINITION.create_app
