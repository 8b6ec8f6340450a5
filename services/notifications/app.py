"""Notifications service assembly."""

from __future__ import annotations

from pathlib import Path

from services.notifications.api import router
from services.notifications.handlers import register
from services.notifications.mailer import send_due_emails
from services.notifications.settings import NotificationsSettings
from services.notifications.timers import run_timers
from services.notifications.webhook_sender import send_due_webhooks
from shared.runtime import ServiceDefinition, every

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
    background_tasks=(
        every("timer_interval_seconds", run_timers),
        every("delivery_interval_seconds", send_due_emails),
        every("delivery_interval_seconds", send_due_webhooks),
    ),
)

create_app = DEFINITION.create_app
