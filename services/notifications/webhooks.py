"""Webhooks for partner banks: what a bank may receive, the minimal payload, and its signature (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from shared.events import (
    AdjustmentRefused,
    AdjustmentRequested,
    ApplicationRouted,
    DelinquencyStageChanged,
    Envelope,
    LoanApproved,
    LoanClosed,
    LoanDeclined,
    LoanDisbursed,
    LoanRescheduled,
    LoanWrittenOff,
    PaymentMissed,
    PaymentReceived,
    PaymentReversed,
)

DELIVERY_ID_NAMESPACE = UUID("3c9d8e7f-1a2b-4c5d-8e9f-0a1b2c3d4e5f")
SIGNATURE_HEADER = "X-Microcredit-Signature"
DELIVERY_HEADER = "X-Microcredit-Delivery"
EVENT_TYPE_HEADER = "X-Microcredit-Event-Type"

# Data minimisation: per event type, the only fields a bank receives. Pseudonymous ids, amounts,
# dates and stages; never names, the counsellor, the association, the social diagnostic or free
# text a counsellor wrote (an adjustment's reason, for one).
MINIMAL_FIELDS: dict[type[Envelope[Any]], tuple[str, ...]] = {
    ApplicationRouted: ("application_id", "bank_id", "amount_cents", "duration_months", "annual_rate"),
    LoanApproved: ("application_id", "bank_id", "amount_cents", "annual_rate", "duration_months", "first_due_date", "instalment_day"),
    LoanDeclined: ("application_id", "bank_id"),
    LoanDisbursed: ("loan_id", "application_id", "amount_cents", "disbursed_on"),
    PaymentReceived: (
        "loan_id", "payment_id", "bank_reference", "amount_cents", "received_on", "interest_cents", "principal_cents", "overpaid_cents",
    ),
    PaymentReversed: ("loan_id", "payment_id", "bank_reference", "amount_cents"),
    PaymentMissed: (
        "loan_id", "application_id", "instalment_number", "due_date", "amount_due_cents", "amount_unpaid_cents", "business_date",
    ),
    DelinquencyStageChanged: (
        "loan_id", "application_id", "previous_stage", "stage", "days_past_due", "arrears_cents", "business_date",
    ),
    AdjustmentRequested: ("loan_id", "adjustment_id", "terms"),
    AdjustmentRefused: ("loan_id", "adjustment_id"),
    LoanRescheduled: (
        "loan_id", "adjustment_id", "terms", "schedule_version", "principal_outstanding_cents", "instalment_cents",
        "remaining_instalments", "next_due_date",
    ),
    LoanWrittenOff: (
        "loan_id", "application_id", "principal_outstanding_cents", "days_past_due", "guarantee_share", "guarantee_claim_cents",
        "business_date",
    ),
    LoanClosed: ("loan_id", "application_id", "closed_on", "reason"),
}
WEBHOOK_EVENT_TYPES: tuple[str, ...] = tuple(cls.event_type() for cls in MINIMAL_FIELDS)


def delivery_id(subscription_id: UUID, event_id: UUID) -> UUID:
    """One delivery per subscription and event: the id the bank sees on every retry."""
    return uuid5(DELIVERY_ID_NAMESPACE, f"{subscription_id}:{event_id}")


def payload(event: Envelope[Any], delivery: UUID) -> bytes:
    """The body POSTed to the bank: the event's minimal fields, fixed once so every retry sends the same bytes."""
    fields = MINIMAL_FIELDS[type(event)]
    data = event.data.model_dump(mode="json", include=set(fields))
    document = {
        "delivery_id": str(delivery),
        "event_id": str(event.id),
        "event_type": event.type,
        "occurred_at": event.time.isoformat(),
        "data": data,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes, at: datetime) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the timestamp is signed too (no replays)."""
    stamp = int(at.timestamp())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: datetime, tolerance_seconds: int = 300) -> bool:
    """What a bank's receiver does: recompute the HMAC, compare in constant time, refuse stale timestamps."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(now.timestamp() - stamp) <= tolerance_seconds
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))
