"""Alerts: what one is, who it is addressed to, and what a person may do with it (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BusinessRuleError
from shared.events import AlertAcknowledged, AlertEscalated, CounsellorAlertRaised, new_event
from shared.events import AlertAcknowledgedData, AlertEscalatedData, CounsellorAlertRaisedData

SOURCE = "/services/notifications"
# Alert ids derive from their cause and audience, so one cause raises at most one alert per audience.
ALERT_ID_NAMESPACE = UUID("0b7f4e1a-3c2d-4b8e-9f6a-5d1c2e3f4a5b")

Severity = Literal["info", "warning", "critical"]
# counsellor: the file's counsellor; association: the association's shared queue (no counsellor);
# supervisor: the association's supervisors (an escalation).
Audience = Literal["counsellor", "association", "supervisor"]
AlertStatus = Literal["open", "acknowledged", "snoozed", "resolved"]
EscalationReason = Literal["consecutive_missed_instalments", "thirty_one_days_past_due", "not_acknowledged"]


class AlertDraft(BaseModel):
    """What a rule decides: an alert for one audience, about one cause."""

    model_config = ConfigDict(frozen=True)

    cause_event_id: UUID
    cause_type: str
    association_id: str
    region: str
    counsellor_id: str = Field(description="The counsellor who follows the file ('' when nobody does yet).")
    audience: Audience
    severity: Severity
    loan_id: UUID | None = None
    application_id: UUID | None = None
    message: str
    escalation: EscalationReason | None = None
    escalated_from: UUID | None = None


class Alert(BaseModel):
    """An alert in an inbox, and what was done with it."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    cause_event_id: UUID
    cause_type: str
    audience: Audience
    association_id: str
    region: str
    counsellor_id: str
    severity: Severity
    status: AlertStatus
    loan_id: UUID | None
    application_id: UUID | None
    message: str
    raised_at: datetime
    escalate_at: datetime | None = Field(None, description="When it goes to the supervisors unless acknowledged.")
    escalated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None
    snoozed_until: datetime | None = None
    reminded_at: datetime | None = None


def alert_id(cause_event_id: UUID, audience: Audience) -> UUID:
    """The alert id of a cause for an audience (a counsellor's keeps the id of the cause alone)."""
    if audience == "supervisor":
        return uuid5(ALERT_ID_NAMESPACE, f"{cause_event_id}:supervisor")
    return uuid5(ALERT_ID_NAMESPACE, str(cause_event_id))


def escalates(audience: Audience, severity: Severity) -> bool:
    """Supervisors' alerts and information never escalate; a counsellor's warning or critical alert does."""
    return audience != "supervisor" and severity != "info"


def raise_alert(
    draft: AlertDraft, now: datetime, escalation_delay: timedelta
) -> tuple[Alert, CounsellorAlertRaised | AlertEscalated]:
    """The alert for `draft` and its event: `alert escalated` for supervisors, `alert raised` otherwise."""
    alert = Alert(
        id=alert_id(draft.cause_event_id, draft.audience),
        cause_event_id=draft.cause_event_id,
        cause_type=draft.cause_type,
        audience=draft.audience,
        association_id=draft.association_id,
        region=draft.region,
        counsellor_id=draft.counsellor_id,
        severity=draft.severity,
        status="open",
        loan_id=draft.loan_id,
        application_id=draft.application_id,
        message=draft.message,
        raised_at=now,
        escalate_at=now + escalation_delay if escalates(draft.audience, draft.severity) else None,
    )
    owner = {"association_id": alert.association_id, "region": alert.region, "counsellor_id": alert.counsellor_id}
    about = {"severity": alert.severity, "loan_id": alert.loan_id, "application_id": alert.application_id, "message": alert.message}
    if draft.audience == "supervisor":
        escalated = new_event(
            AlertEscalated, source=SOURCE, subject=str(alert.id), time=now,
            data=AlertEscalatedData(
                **owner, **about, alert_id=alert.id, cause_event_id=draft.cause_event_id, cause_type=draft.cause_type,
                reason=draft.escalation or "not_acknowledged", escalated_from_alert_id=draft.escalated_from,
            ),
        )
        return alert, escalated
    raised = new_event(
        CounsellorAlertRaised, source=SOURCE, subject=str(alert.id), time=now,
        data=CounsellorAlertRaisedData(**owner, **about, alert_id=alert.id, cause_event_id=draft.cause_event_id, cause_type=draft.cause_type),
    )
    return alert, raised


def _not_resolved(alert: Alert, action: str) -> None:
    if alert.status == "resolved":
        raise BusinessRuleError(f"alert {alert.id} is resolved: it cannot be {action}", field="status", rule="state")


def acknowledge(alert: Alert, by: str, now: datetime) -> tuple[Alert, AlertAcknowledged | None]:
    """Take the alert in hand: it stops escalating. Acknowledging it again changes nothing."""
    _not_resolved(alert, "acknowledged")
    if alert.status == "acknowledged":
        return alert, None
    done = alert.model_copy(
        update={"status": "acknowledged", "acknowledged_at": now, "acknowledged_by": by, "snoozed_until": None, "escalate_at": None}
    )
    event = new_event(
        AlertAcknowledged, source=SOURCE, subject=str(alert.id), time=now,
        data=AlertAcknowledgedData(
            association_id=alert.association_id, region=alert.region, counsellor_id=alert.counsellor_id,
            alert_id=alert.id, audience=alert.audience, acknowledged_by=by, loan_id=alert.loan_id, application_id=alert.application_id,
        ),
    )
    return done, event


def resolve(alert: Alert, by: str, note: str, now: datetime) -> Alert:
    """Close the alert with what was done about it (a note that says something)."""
    if not note.strip():
        raise BusinessRuleError("the note says what was done: it cannot be blank", field="note", rule="blank", status=422)
    _not_resolved(alert, "resolved again")
    return alert.model_copy(
        update={
            "status": "resolved", "resolved_at": now, "resolved_by": by, "resolution_note": note.strip(), "snoozed_until": None,
            "escalate_at": None,
        }
    )


def wake_up_instant(until: date, zone: ZoneInfo, hour: int) -> datetime:
    """A snoozed alert comes back at `hour` o'clock, local time, on `until`."""
    return datetime.combine(until, time(hour), tzinfo=zone).astimezone(UTC)


def snooze(alert: Alert, until: date, *, now: datetime, zone: ZoneInfo, hour: int, max_days: int) -> Alert:
    """Put the alert aside until a later day: no escalation meanwhile, a reminder when it comes back."""
    _not_resolved(alert, "snoozed")
    today = now.astimezone(zone).date()
    if until <= today:
        raise BusinessRuleError(f"an alert is snoozed until a later day than {today.isoformat()}", field="until", rule="future_date", status=422)
    if until > today + timedelta(days=max_days):
        raise BusinessRuleError(f"an alert is snoozed for {max_days} days at most", field="until", rule="too_far", status=422)
    return alert.model_copy(update={"status": "snoozed", "snoozed_until": wake_up_instant(until, zone, hour), "escalate_at": None})


def wake(alert: Alert, now: datetime, escalation_delay: timedelta) -> Alert:
    """The snooze is over: the alert is open again and its escalation delay starts afresh."""
    return alert.model_copy(
        update={
            "status": "open",
            "snoozed_until": None,
            "reminded_at": now,
            "escalate_at": now + escalation_delay if escalates(alert.audience, alert.severity) else None,
        }
    )
