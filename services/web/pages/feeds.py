"""A partner bank's webhooks: its subscriptions, subscribing a URL (its signing key shown this once), each one's delivery log;
resending a delivery without reloading the page (htmx) or with a plain form; unsubscribing after a confirmation; resuming
a subscription paused after repeated failures. Notifications answers 404 for another bank's, as for an unknown one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading
from services.web.problems import path_errors

router = APIRouter()
LOGGED = 50  # the delivery log's newest lines a page shows
EVENT_FIELD = "evenement-"  # one checkbox per event type: `evenement-<type>`


def answer_text(delivery: dict[str, Any]) -> str:
    """What went wrong the last time, in plain French; a dash when nothing did."""
    code, error = delivery.get("last_status_code"), delivery.get("last_error")
    if delivery.get("status") == "delivered" or not error:
        return "—"
    if code is not None:
        if code >= 500:
            return f"Votre serveur a répondu {code} : une erreur de son côté."
        if code in (401, 403):
            return f"Votre serveur a répondu {code} : il a refusé l'envoi (vérifiez la signature attendue)."
        if code == 404:
            return "Votre serveur a répondu 404 : l'adresse n'existe pas chez vous."
        return f"Votre serveur a répondu {code} au lieu d'un code 2xx."
    if "Timeout" in error:
        return "Votre serveur n'a pas répondu à temps."
    if "Connect" in error:
        return "Impossible de joindre votre serveur à cette adresse."
    return "Votre serveur n'a pas répondu."


def shown(delivery: dict[str, Any]) -> dict[str, Any]:
    """A delivery with its last error in words, and whether it waits to be sent now (its row then refreshes itself)."""
    queued = delivery["status"] == "pending" and delivery["attempts"] == 0
    return {**delivery, "answer": answer_text(delivery), "queued": queued}


async def _list(
    request: Request, person: Person, ctx: WebContext, status_code: int = 200, **values: Any
) -> HTMLResponse:
    subscriptions = await ctx.backends.call("notifications", "GET", "/webhooks/subscriptions", person.token)
    values.setdefault("typed", {"events": set()})
    values.setdefault("errors", {})
    return ctx.render(
        request, "abonnements.html", person, status_code=status_code, subscriptions=subscriptions, events=labels.EVENT_TYPE, **values
    )


@router.get("/banque/abonnements")
async def subscriptions(request: Request, person: SignedIn, ctx: Context, desabonne: str | None = None) -> HTMLResponse:
    """The bank's subscriptions, and the form to subscribe a URL."""
    return await _list(request, person, ctx, unsubscribed=desabonne is not None)


@router.post("/banque/abonnements")
async def subscribe(request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> HTMLResponse:
    """Subscribe: the page shows the signing key this once (it is never shown again, so no redirect)."""
    reading = Reading(form)
    url = reading.text("url") or ""
    chosen = [t for t in labels.EVENT_TYPE if reading.flag(EVENT_FIELD + t)]
    typed = {"url": url, "events": set(chosen)}
    try:
        created = await ctx.backends.call(
            "notifications", "POST", "/webhooks/subscriptions", person.token, body={"url": url, "event_types": chosen},
            once=form.get("idempotency_key"),
        )
    except BackendError as refused:
        if refused.status != 422:
            raise
        errors = {field.split(".")[0]: text for field, text in reversed(path_errors(refused).items())}
        return await _list(request, person, ctx, status_code=422, typed=typed, errors=errors)
    return await _list(request, person, ctx, created=created)


async def _subscription(ctx: WebContext, person: Person, subscription_id: UUID) -> dict[str, Any]:
    return await ctx.backends.call("notifications", "GET", f"/webhooks/subscriptions/{subscription_id}", person.token)  # type: ignore[no-any-return]


@router.get("/banque/abonnements/{subscription_id}")
async def subscription(subscription_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """One subscription and its delivery log, newest first."""
    found = await _subscription(ctx, person, subscription_id)
    log = await ctx.backends.call(
        "notifications", "GET", f"/webhooks/subscriptions/{subscription_id}/deliveries", person.token, params={"limit": LOGGED}
    )
    return ctx.render(request, "abonnement.html", person, subscription=found, deliveries=[shown(d) for d in log])


@router.get("/banque/abonnements/{subscription_id}/envois/{delivery_id}")
async def delivery(subscription_id: UUID, delivery_id: UUID, request: Request, person: SignedIn, ctx: Context) -> Response:
    """One line of the log (htmx refreshes a line waiting to be sent); a browser gets the whole log."""
    if not request.headers.get("HX-Request"):
        return RedirectResponse(f"/banque/abonnements/{subscription_id}", status_code=303)
    found = await ctx.backends.call("notifications", "GET", f"/webhooks/deliveries/{delivery_id}", person.token)
    return ctx.render(request, "abonnement_envoi.html", person, delivery=shown(found), subscription={"id": subscription_id})


@router.post("/banque/abonnements/{subscription_id}/envois/{delivery_id}/renvoi")
async def resend(
    subscription_id: UUID, delivery_id: UUID, request: Request, person: SignedIn, form: CheckedForm, ctx: Context
) -> Response:
    """Send the delivery again (same id, same body): htmx gets its line back, a plain form the log."""
    resent = await ctx.backends.call("notifications", "POST", f"/webhooks/deliveries/{delivery_id}/resend", person.token)
    if request.headers.get("HX-Request"):
        return ctx.render(request, "abonnement_envoi.html", person, delivery=shown(resent), subscription={"id": subscription_id})
    return RedirectResponse(f"/banque/abonnements/{subscription_id}", status_code=303)


@router.post("/banque/abonnements/{subscription_id}/reprise")
async def resume(subscription_id: UUID, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Resume a paused subscription: what waited is sent at once."""
    await ctx.backends.call("notifications", "POST", f"/webhooks/subscriptions/{subscription_id}/resumption", person.token)
    return RedirectResponse(f"/banque/abonnements/{subscription_id}", status_code=303)


@router.get("/banque/abonnements/{subscription_id}/desabonnement")
async def confirm_unsubscribe(subscription_id: UUID, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Ask before unsubscribing: what it stops, what it keeps."""
    return ctx.render(request, "abonnement_fin.html", person, subscription=await _subscription(ctx, person, subscription_id))


@router.post("/banque/abonnements/{subscription_id}/desabonnement")
async def unsubscribe(subscription_id: UUID, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """No more deliveries; what was waiting is dropped, the log is kept."""
    await ctx.backends.call("notifications", "DELETE", f"/webhooks/subscriptions/{subscription_id}", person.token)
    return RedirectResponse("/banque/abonnements?desabonne=1", status_code=303)
