"""Webhooks HTTP API, for partner banks: subscriptions, the delivery log, resends."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal
from uuid import UUID, uuid4

import httpx
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notifications import webhook_store
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import WEBHOOK_EVENT_TYPES
from shared.auth import Principal, Role, require
from shared.errors import BusinessRuleError
from shared.http import not_found
from shared.runtime import ServiceContext, service_context

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Bank = Annotated[Principal, Depends(require(Role.BANK))]
Context = Annotated[ServiceContext, Depends(service_context)]
WebhookEventType = Literal[WEBHOOK_EVENT_TYPES]  # type: ignore[valid-type]


class NewSubscription(BaseModel):
    """Where to POST which events (only about the bank's own files and loans)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=10, max_length=2000, pattern=r"^https?://[!-~]+$",
        description="The bank's receiving endpoint; https:// (http:// only where the deployment allows it, for tests).",
    )
    event_types: list[WebhookEventType] = Field(min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))  # type: ignore[valid-type]

    @field_validator("url")
    @classmethod
    def _has_host(cls, value: str) -> str:
        try:
            host = httpx.URL(value).host
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if not host:
            raise ValueError("the URL names no host")
        return value

    @field_validator("event_types")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each event type once")
        return value


async def _own(ctx: ServiceContext, principal: Principal, subscription_id: UUID) -> webhook_store.Subscription:
    sub = await webhook_store.get(ctx.pool, subscription_id)
    if sub is None or sub.bank_id != principal.bank_id:
        raise not_found("subscription", subscription_id)
    return sub


@router.post("/subscriptions", status_code=201, response_model=webhook_store.CreatedSubscription, summary="Subscribe a URL")
async def subscribe(body: NewSubscription, principal: Bank, ctx: Context) -> webhook_store.CreatedSubscription:
    """The answer carries the signing secret, this once."""
    settings = ctx.settings
    assert isinstance(settings, NotificationsSettings)
    if not body.url.startswith("https://") and not settings.webhook_allow_insecure_urls:
        raise BusinessRuleError("webhooks are delivered over https:// only", field="url", rule="https_required", status=422)
    sub = webhook_store.CreatedSubscription(
        id=uuid4(), bank_id=principal.bank_id or "", url=body.url, event_types=list(body.event_types), status="active",
        consecutive_failures=0, created_at=ctx.clock.now(), secret="whsec_" + secrets.token_urlsafe(32),
    )
    await webhook_store.create(ctx.pool, sub, sub.secret)
    return sub


@router.get("/subscriptions", response_model=list[webhook_store.Subscription], summary="The bank's subscriptions")
async def list_subscriptions(principal: Bank, ctx: Context) -> list[webhook_store.Subscription]:
    """Active and paused ones, oldest first (never the secrets)."""
    return await webhook_store.of_bank(ctx.pool, principal.bank_id or "")


@router.get("/subscriptions/{subscription_id}", response_model=webhook_store.Subscription, summary="One subscription")
async def get_subscription(subscription_id: UUID, principal: Bank, ctx: Context) -> webhook_store.Subscription:
    """Another bank's answers 404, like an unknown one."""
    return await _own(ctx, principal, subscription_id)


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Unsubscribe")
async def unsubscribe(subscription_id: UUID, principal: Bank, ctx: Context) -> Response:
    """No more deliveries; what was pending is dropped."""
    await _own(ctx, principal, subscription_id)
    await webhook_store.delete(ctx.pool, subscription_id, ctx.clock.now())
    return Response(status_code=204)


@router.post("/subscriptions/{subscription_id}/resumption", response_model=webhook_store.Subscription, summary="Resume a paused subscription")
async def resume(subscription_id: UUID, principal: Bank, ctx: Context) -> webhook_store.Subscription:
    """After a pause for repeated failures: what waited is sent at once. An active subscription stays as it is."""
    await _own(ctx, principal, subscription_id)
    await webhook_store.resume(ctx.pool, subscription_id, ctx.clock.now())
    return await _own(ctx, principal, subscription_id)


@router.get(
    "/subscriptions/{subscription_id}/deliveries", response_model=list[webhook_store.Delivery], summary="The delivery log"
)
async def deliveries(
    subscription_id: UUID,
    principal: Bank,
    ctx: Context,
    response: Response,
    status: Literal["pending", "delivered", "failed"] | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> list[webhook_store.Delivery]:
    """Newest first, each with its attempts (status code, latency); `X-Total-Count` for paging."""
    await _own(ctx, principal, subscription_id)
    found, total = await webhook_store.deliveries(ctx.pool, subscription_id, status=status, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return found


async def _own_delivery(ctx: ServiceContext, principal: Principal, delivery_id: UUID) -> webhook_store.Delivery:
    found = await webhook_store.delivery(ctx.pool, delivery_id)
    if found is None or found[1] != principal.bank_id:
        raise not_found("delivery", delivery_id)
    return found[0]


@router.get("/deliveries/{delivery_id}", response_model=webhook_store.Delivery, summary="One delivery and its attempts")
async def get_delivery(delivery_id: UUID, principal: Bank, ctx: Context) -> webhook_store.Delivery:
    """Another bank's answers 404."""
    return await _own_delivery(ctx, principal, delivery_id)


@router.post("/deliveries/{delivery_id}/resend", status_code=202, response_model=webhook_store.Delivery, summary="Send a delivery again")
async def resend(delivery_id: UUID, principal: Bank, ctx: Context) -> webhook_store.Delivery:
    """Same delivery id and body, new signature timestamp; sent by the next worker run."""
    await _own_delivery(ctx, principal, delivery_id)
    await webhook_store.resend(ctx.pool, delivery_id, ctx.clock.now())
    return await _own_delivery(ctx, principal, delivery_id)
