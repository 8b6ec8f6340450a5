"""Notifications domain: which events become which counsellor alerts (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict

from shared.events import CounsellorAlertRaised, PaymentMissed, new_event
from shared.events.catalog import CounsellorAlertRaisedData

SOURCE = "/services/notifications"
# Alert ids derive from their cause, so one cause can only ever raise one alert.
ALERT_ID_NAMESPACE = UUID("0b7f4e1a-3c2d-4b8e-9f6a-5d1c2e3f4a5b")


class Alert(BaseModel):
    """An alert in a counsellor's inbox."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    cause_event_id: UUID
    cause_type: str
    association_id: str
    region: str
    counsellor_id: str
    severity: Literal["info", "warning", "critical"]
    status: Literal["open", "acknowledged", "resolved"]
    loan_id: UUID | None
    application_id: UUID | None
    message: str
    raised_at: datetime


def _euros(cents: int) -> str:
    # French style: narrow no-break space between thousands, decimal comma ("1 234,56 €").
    euros = f"{cents // 100:,}".replace(",", "\u202f")
    return f"{euros},{cents % 100:02d} €"


def alert_for_missed_payment(event: PaymentMissed, now: datetime) -> tuple[Alert, CounsellorAlertRaised]:
    """A missed instalment alerts the borrower's counsellor, who can call and adjust the calendar."""
    d = event.data
    alert = Alert(
        id=uuid5(ALERT_ID_NAMESPACE, str(event.id)),
        cause_event_id=event.id,
        cause_type=event.type,
        association_id=d.association_id,
        region=d.region,
        counsellor_id=d.counsellor_id,
        severity="warning",
        status="open",
        loan_id=d.loan_id,
        application_id=d.application_id,
        message=(
            f"Échéance n° {d.instalment_number} du {d.due_date:%d/%m/%Y} impayée "
            f"({_euros(d.amount_unpaid_cents)} sur {_euros(d.amount_due_cents)}) : contacter l'emprunteur."
        ),
        raised_at=now,
    )
    raised = new_event(
        CounsellorAlertRaised,
        source=SOURCE,
        subject=str(alert.id),
        time=now,
        data=CounsellorAlertRaisedData(
            association_id=alert.association_id,
            region=alert.region,
            counsellor_id=alert.counsellor_id,
            alert_id=alert.id,
            cause_event_id=event.id,
            cause_type=event.type,
            severity=alert.severity,
            loan_id=alert.loan_id,
            application_id=alert.application_id,
            message=alert.message,
        ),
    )
    return alert, raised
