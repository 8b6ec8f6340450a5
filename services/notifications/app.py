"""Notifications service assembly."""

from __future__ import annotations

from pathlib import Path

from services.notifications.api import router
from services.notifications.handlers import register
from services.notifications.settings import NotificationsSettings
from shared.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="notifications",
    title="Microcredit notifications",
    description="Counsellor alerts raised from what happens to files and loans.",
    schema="notifications",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=NotificationsSettings,
    register_consumers=register,
)

create_app = DEFINITION.create_app
