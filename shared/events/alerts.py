"""The alerts stream (key: alert id): alerts raised, acknowledged, escalated, and failed deliveries."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.common import FileOwnership
from shared.events.envelope import Envelope, Payload
from shared.events.topics import Topics


class CounsellorAlertRaisedData(FileOwnership):
    """An alert was raised for a counsellor."""

    alert_id: UUID
    cause_event_id: UUID = Field(description="The event that caused the alert (one alert per cause).")
    cause_type: str
    severity: Literal["info", "warning", "critical"]
    loan_id: UUID | None = None
    application_id: UUID | None = None
    message: str


class CounsellorAlertRaised(Envelope[CounsellorAlertRaisedData]):
    """`counsellor alert raised` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.alert.raised.v1"] = "fr.microcredit.alert.raised.v1"


class AlertAcknowledgedData(FileOwnership):
    """Someone took an alert in hand: it stops escalating (the event's time is when)."""

    alert_id: UUID
    audience: Literal["counsellor", "association", "supervisor"] = Field(
        description="Who the alert is addressed to: its counsellor, the association's shared queue, or its supervisors."
    )
    acknowledged_by: str = Field(description="The counsellor or supervisor who acknowledged it.")
    loan_id: UUID | None = None
    application_id: UUID | None = None


class AlertAcknowledged(Envelope[AlertAcknowledgedData]):
    """`alert acknowledged` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.alert.acknowledged.v1"] = "fr.microcredit.alert.acknowledged.v1"


class AlertEscalatedData(FileOwnership):
    """An alert was raised for the association's supervisors: a loan going wrong, or a counsellor's alert left unacknowledged."""

    alert_id: UUID = Field(description="The supervisors' alert (its own id: one per cause and audience).")
    cause_event_id: UUID = Field(description="The event behind it (the same cause as the counsellor's alert, if any).")
    cause_type: str
    reason: Literal["consecutive_missed_instalments", "thirty_one_days_past_due", "not_acknowledged"]
    escalated_from_alert_id: UUID | None = Field(None, description="not_acknowledged: the counsellor's alert left unanswered.")
    severity: Literal["info", "warning", "critical"]
    loan_id: UUID | None = None
    application_id: UUID | None = None
    message: str


class AlertEscalated(Envelope[AlertEscalatedData]):
    """`alert escalated` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.alert.escalated.v1"] = "fr.microcredit.alert.escalated.v1"


class DeliveryFailedData(Payload):
    """An e-mail or a partner bank's webhook could not be delivered; a failing webhook subscription is paused."""

    alert_id: UUID = Field(
        description="E-mail: the alert that was not delivered; webhook: the incident raised for the bank's contact."
    )
    channel: Literal["email", "webhook"]
    delivery_id: UUID = Field(description="The last delivery that failed (stable across its retries).")
    attempts: int = Field(ge=1, description="Attempts of that delivery.")
    last_error: str = Field(description="The last SMTP reply, HTTP status or network error.")
    association_id: str | None = Field(None, description="E-mail: the association of the alert.")
    bank_id: str | None = Field(None, description="Webhook: the partner bank.")
    subscription_id: UUID | None = Field(None, description="Webhook: the subscription.")
    consecutive_failures: int | None = Field(None, ge=1, description="Webhook: failed attempts in a row.")
    subscription_paused: bool = Field(False, description="Webhook: the subscription was paused until the bank resumes it.")


class DeliveryFailed(Envelope[DeliveryFailedData]):
    """`delivery failed` v1."""

    topic: ClassVar[str] = Topics.ALERTS
    type: Literal["fr.microcredit.delivery.failed.v1"] = "fr.microcredit.delivery.failed.v1"
