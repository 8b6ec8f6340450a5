"""Notifications service assembly: the definition, the timers declared once, the routes of the three groups, the delivery metrics."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from services.notifications.alerts import api as alerts_api
from services.notifications.alerts import usecases as alerts
from services.notifications.email import api as email_api
from services.notifications.email import usecases as email
from services.notifications.context import Notifications
from services.notifications.handlers import register
from services.notifications.metrics import DeliveryMetrics
from services.notifications import partners, retention
from services.notifications.privacy import api as privacy_api
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import api as webhooks_api
from services.notifications.webhooks import usecases as webhooks
from shared import events
from shared.asyncapi import declare_partner_feed
from shared.runtime import ServiceDefinition
from shared.timers import Timer


def _timers_every(settings: NotificationsSettings) -> float:
    return settings.timer_interval_seconds


def _deliveries_every(settings: NotificationsSettings) -> float:
    return settings.delivery_interval_seconds


# Each runs in the background at its interval and on demand at `POST /operations/timers`, on the injected clock.
TIMERS: tuple[Timer[NotificationsSettings], ...] = (
    Timer("escalations", _timers_every, alerts.escalate_unacknowledged, alerts.Escalations),
    Timer("reminders", _timers_every, alerts.wake_snoozed, alerts.Reminders),
    Timer("incomplete_files", _timers_every, alerts.alert_incomplete_files, alerts.IncompleteFiles),
    Timer("digests", _timers_every, email.write_digests, email.Digests),
    Timer("emails", _deliveries_every, email.send_due_emails, email.Emails),
    Timer("webhooks", _deliveries_every, webhooks.send_due_webhooks, webhooks.Webhooks),
    Timer("partner_topics", _deliveries_every, partners.open_bank_topics, partners.PartnerTopicsRun),
    Timer("notification_log", _timers_every, retention.forget_old_log, retention.NotificationLog),
)

def _start(ctx: Notifications) -> None:
    DeliveryMetrics.register(ctx.registry)
    register(ctx)
    # What it writes on each bank's feed, for the AsyncAPI document (the topic depends on the event: not `publishes`).
    declare_partner_feed(ctx.broker, "notifications")


# The routes themselves, not included sub-routers: whatever walks `router.routes` (OpenAPI checks,
# the HTTP sweeps of the tests) sees every endpoint.
router = APIRouter()
for _group in (alerts_api.router, email_api.router, webhooks_api.router, privacy_api.router):
    router.routes.extend(_group.routes)

DEFINITION = ServiceDefinition(
    name="notifications",
    title="Microcredit notifications",
    description=(
        "Counsellor and supervisor alerts raised from what happens to files and loans, delivered by e-mail; "
        "each partner bank's own Kafka feed and signed webhooks, cut to the partner allow-list."
    ),
    schema="notifications",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=NotificationsSettings,
    register_consumers=_start,
    publishes=(
        events.CounsellorAlertRaised,
        events.AlertAcknowledged,
        events.AlertEscalated,
        events.DeliveryFailed,
    ),
    timers=TIMERS,
)

create_app = DEFINITION.create_app
