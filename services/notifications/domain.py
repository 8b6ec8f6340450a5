"""Notifications domain: which events become which counsellor alerts (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict

from shared.events import BankDecisionOverdue, CounsellorAlertRaised, Envelope, PaymentMissed, new_event
from shared.events.catalog import CounsellorAlertRaisedData, FileOwnership

SOURCE = "/services/notifications"
# Alert ids derive from their cause, so one cause can only ever raise one alert.
ALERT_ID_NAMESPACE = UUID("0b7f4e1a-3c2d-4b8e-9f6a-5d1c2e3f4a5b")


Severity = Literal["info", "warning", "critical"]


class Alert(BaseModel):
    """An alert in a counsellor's inbox."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    cause_event_id: UUID
    cause_type: str
    association_id: str
    region: str
    counsellor_id: str
    severity: Severity
    status: Literal["open", "acknowledged", "resolved"]
    loan_id: UUID | None
    application_id: UUID | None
    message: str
    raised_at: datetime


def _euros(cents: int) -> str:
    # French style: narrow no-break space between thousands, decimal comma ("1 234,56 €").
    euros = f"{cents // 100:,}".replace(",", "\u202f")
    return f"{euros},{cents % 100:02d} €"


def _raise(
    cause: Envelope[Any],
    owner: FileOwnership,
    *,
    severity: Severity,
    loan_id: UUID | None,
    application_id: UUID | None,
    message: str,
    now: datetime,
) -> tuple[Alert, CounsellorAlertRaised]:
    """The alert for `cause` and its `alert raised` event; the id derives from the cause (one alert per cause)."""
    alert = Alert(
        id=uuid5(ALERT_ID_NAMESPACE, str(cause.id)),
        cause_event_id=cause.id,
        cause_type=cause.type,
        association_id=owner.association_id,
        region=owner.region,
        counsellor_id=owner.counsellor_id,
        severity=severity,
        status="open",
        loan_id=loan_id,
        application_id=application_id,
        message=message,
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
            cause_event_id=cause.id,
            cause_type=cause.type,
            severity=alert.severity,
            loan_id=alert.loan_id,
            application_id=alert.application_id,
            message=alert.message,
        ),
    )
    return alert, raised


def alert_for_missed_payment(event: PaymentMissed, now: datetime) -> tuple[Alert, CounsellorAlertRaised]:
    """A missed instalment alerts the borrower's counsellor, who can call and adjust the calendar."""
    d = event.data
    message = (
        f"Échéance n° {d.instalment_number} du {d.due_date:%d/%m/%Y} impayée "
        f"({_euros(d.amount_unpaid_cents)} sur {_euros(d.amount_due_cents)}) : contacter l'emprunteur."
    )
    return _raise(event, d, severity="warning", loan_id=d.loan_id, application_id=d.application_id, message=message, now=now)


def alert_for_overdue_bank_decision(event: BankDecisionOverdue, now: datetime) -> tuple[Alert, CounsellorAlertRaised]:
    """A file left without a bank decision: the counsellor chases the bank."""
    d = event.data
    message = (
        f"Aucune décision de la banque {d.bank_id} depuis {d.days_waiting} jours "
        f"(dossier transmis le {d.routed_on:%d/%m/%Y}) : relancer la banque."
    )
    return _raise(event, d, severity="warning", loan_id=None, application_id=d.application_id, message=message, now=now)
