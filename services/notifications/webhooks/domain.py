"""Webhooks for partner banks: what a bank may receive, the minimal payload, its signature, and what a bank sees of its
subscriptions and deliveries (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, Field

from shared.errors import BusinessRuleError
from shared.events import Envelope
from shared.events.partner import PARTNER_EVENT_TYPES, PARTNER_FIELDS

DELIVERY_ID_NAMESPACE = UUID("3c9d8e7f-1a2b-4c5d-8e9f-0a1b2c3d4e5f")
SIGNATURE_HEADER = "X-Microcredit-Signature"
DELIVERY_HEADER = "X-Microcredit-Delivery"
EVENT_TYPE_HEADER = "X-Microcredit-Event-Type"

# What a bank may subscribe to: the event types of the partner allow-list (`shared.events.partner`), cut to it.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = PARTNER_EVENT_TYPES


def delivery_id(subscription_id: UUID, event_id: UUID) -> UUID:
    """One delivery per subscription and event: the id the bank sees on every retry."""
    return uuid5(DELIVERY_ID_NAMESPACE, f"{subscription_id}:{event_id}")


def payload(event: Envelope[Any], delivery: UUID) -> bytes:
    """The body POSTed to the bank: the event's minimal fields, fixed once so every retry sends the same bytes."""
    data = event.data.model_dump(mode="json", include=set(PARTNER_FIELDS[type(event)]))
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


class Subscription(BaseModel):
    """A bank's subscription: which events, to which URL."""

    id: UUID
    bank_id: str
    url: str
    event_types: list[str]
    status: Literal["active", "paused"]
    consecutive_failures: int = Field(description="Failed attempts in a row; the subscription pauses at the configured limit.")
    created_at: datetime
    paused_at: datetime | None = None


class CreatedSubscription(Subscription):
    """The subscription just created, with its signing secret: shown this once, keep it safe."""

    secret: str = Field(description="HMAC-SHA256 key of the `X-Microcredit-Signature` header. Not shown again.")


DeliveryStatus = Literal["pending", "delivered", "failed"]


class Attempt(BaseModel):
    """One try to deliver."""

    number: int
    attempted_at: datetime
    status_code: int | None = Field(description="The bank's HTTP status; null when no answer came (network error, timeout).")
    error: str | None
    latency_ms: int


class Delivery(BaseModel):
    """One event for one subscription, and its attempts."""

    id: UUID = Field(description="The `X-Microcredit-Delivery` header: the same on every retry and resend.")
    subscription_id: UUID
    event_id: UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[Attempt] = Field(default_factory=list)


def signed_headers(*, secret: str, body: bytes, delivery: UUID, event_type: str, at: datetime) -> dict[str, str]:
    """The headers of one attempt: the body's signature at `at`, the stable delivery id, the event type."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "microcredit-webhooks/1",
        SIGNATURE_HEADER: signature(secret, body, at),
        DELIVERY_HEADER: str(delivery),
        EVENT_TYPE_HEADER: event_type,
    }


def require_https(url: str, *, allow_insecure: bool) -> None:
    """Webhooks travel over https:// only, unless the deployment allows http:// (local tests and demos)."""
    if not url.startswith("https://") and not allow_insecure:
        raise BusinessRuleError("webhooks are delivered over https:// only", field="url", rule="https_required", status=422)
