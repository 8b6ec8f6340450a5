"""E-mail: who receives an alert, how a counsellor wants their e-mails, and the deliveries' ids (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, Field

from services.notifications.alerts.domain import Alert
from services.notifications.settings import NotificationsSettings

EMAIL_ID_NAMESPACE = UUID("5e1d2c3b-4a59-4f8e-a7d6-c5b4a3928170")
DeliveryKind = Literal["alert", "reminder", "digest", "bank_contact"]
EmailMode = Literal["immediate", "daily_digest"]


class EmailPreference(BaseModel):
    """How a counsellor wants their alerts by e-mail."""

    counsellor_id: str
    mode: EmailMode = Field(
        description="immediate: one e-mail per alert; daily_digest: one e-mail a day (critical alerts still at once)."
    )
    digest_hour: int = Field(ge=0, le=23, description="Local hour (association's time zone) of the daily digest.")
    updated_at: datetime | None = None


def default_preference(counsellor_id: str, settings: NotificationsSettings) -> EmailPreference:
    """A counsellor who chose nothing gets one e-mail per alert."""
    return EmailPreference(counsellor_id=counsellor_id, mode="immediate", digest_hour=settings.default_digest_hour)


def email_id(*parts: object) -> UUID:
    """A delivery id derived from what it delivers: writing it twice writes it once."""
    return uuid5(EMAIL_ID_NAMESPACE, ":".join(str(p) for p in parts))


def recipients_for(alert: Alert, settings: NotificationsSettings) -> list[str]:
    """Who receives an alert: the counsellor (else the association's mailbox), the shared mailbox, or the supervisors."""
    shared = settings.association_emails.get(alert.association_id, [])
    supervisors = settings.supervisor_emails.get(alert.association_id, [])
    if alert.audience == "supervisor":
        return list(supervisors)
    if alert.audience == "association":
        return list(shared or supervisors)
    own = settings.counsellor_emails.get(alert.counsellor_id)
    return [own] if own else list(shared)


def may_wait_for_digest(alert: Alert, settings: NotificationsSettings) -> bool:
    """Only a counsellor's own alert, not critical, sent to their own address, may wait for their daily digest."""
    return alert.audience == "counsellor" and alert.severity != "critical" and alert.counsellor_id in settings.counsellor_emails


def digest_recipients(counsellor_id: str, association_id: str, settings: NotificationsSettings) -> list[str]:
    """The counsellor's address, else the association's shared mailbox."""
    own = settings.counsellor_emails.get(counsellor_id)
    return [own] if own else list(settings.association_emails.get(association_id, []))
