"""Webhook routes, for partner banks: subscriptions, the delivery log, resends (only the bank's own)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import httpx
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notifications.context import Context
from shared.http import PAGED, TOTAL_COUNT, PageQuery, not_found
from services.notifications.webhooks import repository, usecases
from services.notifications.webhooks.domain import WEBHOOK_EVENT_TYPES, CreatedSubscription, Delivery, DeliveryStatus, Subscription
from shared.auth import PartnerBank, Principal

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

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


async def _own(ctx: Context, principal: Principal, subscription_id: UUID) -> Subscription:
    sub = await repository.get(ctx.pool, subscription_id)
    if sub is None or sub.bank_id != principal.bank_id:
        raise not_found("subscription", subscription_id)
    return sub


async def _own_delivery(ctx: Context, principal: Principal, delivery_id: UUID) -> Delivery:
    found = await repository.delivery(ctx.pool, delivery_id)
    if found is None or found[1] != principal.bank_id:
        raise not_found("delivery", delivery_id)
    return found[0]


@router.post("/subscriptions", status_code=201, response_model=CreatedSubscription, summary="Subscribe a URL")
async def subscribe(body: NewSubscription, principal: PartnerBank, ctx: Context) -> CreatedSubscription:
    """The answer carries the signing secret, this once."""
    return await usecases.subscribe(ctx.pool, principal.bank_id or "", body.url, list(body.event_types), ctx.settings, ctx.clock.now())


@router.get("/subscriptions", response_model=list[Subscription], summary="The bank's subscriptions")
async def list_subscriptions(principal: PartnerBank, ctx: Context) -> list[Subscription]:
    """Active and paused ones, oldest first (never the secrets)."""
    return await repository.of_bank(ctx.pool, principal.bank_id or "")


@router.get("/subscriptions/{subscription_id}", response_model=Subscription, summary="One subscription")
async def get_subscription(subscription_id: UUID, principal: PartnerBank, ctx: Context) -> Subscription:
    """Another bank's answers 404, like an unknown one."""
    return await _own(ctx, principal, subscription_id)


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Unsubscribe")
async def unsubscribe(subscription_id: UUID, principal: PartnerBank, ctx: Context) -> Response:
    """No more deliveries; what was pending is dropped."""
    await _own(ctx, principal, subscription_id)
    await usecases.unsubscribe(ctx.pool, subscription_id, ctx.clock.now())
    return Response(status_code=204)


@router.post("/subscriptions/{subscription_id}/resumption", response_model=Subscription, summary="Resume a paused subscription")
async def resume(subscription_id: UUID, principal: PartnerBank, ctx: Context) -> Subscription:
    """After a pause for repeated failures: what waited is sent at once. An active subscription stays as it is."""
    await _own(ctx, principal, subscription_id)
    await usecases.resume(ctx.pool, subscription_id, ctx.clock.now())
    return await _own(ctx, principal, subscription_id)


@router.get(
    "/subscriptions/{subscription_id}/deliveries", response_model=list[Delivery], summary="The delivery log", responses=PAGED
)
async def deliveries(
    subscription_id: UUID,
    principal: PartnerBank,
    ctx: Context,
    response: Response,
    page: PageQuery,
    status: DeliveryStatus | None = Query(None),
) -> list[Delivery]:
    """Newest first, each with its attempts (status code, latency); `X-Total-Count` for paging."""
    await _own(ctx, principal, subscription_id)
    found, total = await repository.deliveries(ctx.pool, subscription_id, status=status, limit=page.limit, offset=page.offset)
    response.headers[TOTAL_COUNT] = str(total)
    return found


@router.get("/deliveries/{delivery_id}", response_model=Delivery, summary="One delivery and its attempts")
async def get_delivery(delivery_id: UUID, principal: PartnerBank, ctx: Context) -> Delivery:
    """Another bank's answers 404."""
    return await _own_delivery(ctx, principal, delivery_id)


@router.post("/deliveries/{delivery_id}/resend", status_code=202, response_model=Delivery, summary="Send a delivery again")
async def resend(delivery_id: UUID, principal: PartnerBank, ctx: Context) -> Delivery:
    """Same delivery id and body, new signature timestamp; sent by the next worker run."""
    await _own_delivery(ctx, principal, delivery_id)
    await usecases.resend(ctx.pool, delivery_id, ctx.clock.now())
    return await _own_delivery(ctx, principal, delivery_id)
