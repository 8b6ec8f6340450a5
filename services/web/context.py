"""What every page needs: the signed-in person (their token renewed when it expires), CSRF, rendering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.web.backends import Backends
from services.web.sessions import COOKIE, Session, SessionStore
from services.web.settings import WebSettings
from services.web.signin import Provider, SignInError
from shared.auth import Principal
from shared.clock import Clock

# A token this close to its end is renewed before it is used.
_RENEW_BEFORE_SECONDS = 20
ERRORS = {
    403: ("Accès refusé", "Cette page ne fait pas partie de ce que votre rôle permet de voir."),
    404: ("Page introuvable", "Ce que vous cherchez n'existe pas, ou ne fait pas partie de votre association."),
    409: ("Action impossible", "L'état du dossier ne permet plus cette action. Rechargez la page pour voir où il en est."),
}
UNAVAILABLE = ("Service indisponible", "Un service de la plateforme ne répond pas. Réessayez dans quelques minutes.")


class SignInRequired(Exception):
    """The page needs a signed-in person; `back_to` is where to return after sign-in."""

    def __init__(self, back_to: str = "/") -> None:
        super().__init__(back_to)
        self.back_to = back_to


class CsrfRefused(Exception):
    """A form or htmx request without this session's CSRF token."""


@dataclass
class WebContext:
    """The workspace's collaborators, built once at start."""

    settings: WebSettings
    templates: Jinja2Templates
    sessions: SessionStore
    provider: Provider
    backends: Backends
    clock: Clock
    session_ttl: timedelta

    def render(self, request: Request, template: str, person: Person | None, status_code: int = 200, **values: Any) -> HTMLResponse:
        """A page (or an htmx fragment) in French."""
        return self.templates.TemplateResponse(
            request, template, {"person": person, **values}, status_code=status_code
        )

    def error_page(self, request: Request, status: int) -> HTMLResponse:
        """The page for a refusal: the same « introuvable » for another's object as for an unknown one."""
        title, text = ERRORS.get(status, UNAVAILABLE)
        shown = status if status in ERRORS or status == 503 else 502
        person = getattr(request.state, "person", None)
        return self.render(request, "error.html", person, status_code=shown, title=title, text=text)

    def set_cookie(self, response: HTMLResponse, session: Session) -> None:
        """The session cookie: HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET), Secure over HTTPS."""
        response.set_cookie(
            COOKIE, session.id, httponly=True, samesite="lax", secure=self.settings.secure_cookies, path="/",
            max_age=int(self.session_ttl.total_seconds()),
        )


@dataclass
class Person:
    """The signed-in person, as the workspace acts for them."""

    principal: Principal
    name: str
    token: str
    session: Session


def context(request: Request) -> WebContext:
    """The workspace's context."""
    return request.app.state.ctx  # type: ignore[no-any-return]


async def context_dependency(request: Request) -> WebContext:
    """FastAPI dependency giving a page the workspace's context (async: FastAPI runs a plain `def` in a worker thread)."""
    return context(request)


async def signed_in(request: Request) -> Person:
    """The person of this browser's session; renews their access token when it is about to expire."""
    ctx = context(request)
    session = await ctx.sessions.load(request.cookies.get(COOKIE))
    back_to = request.url.path if request.method == "GET" else "/"
    if session is None or not session.signed_in:
        raise SignInRequired(back_to)
    now = ctx.clock.now().timestamp()
    if float(session.data.get("expires_at", 0)) - _RENEW_BEFORE_SECONDS <= now:
        try:
            tokens = await ctx.provider.refresh(str(session.data.get("refresh_token", "")))
        except SignInError:
            await ctx.sessions.delete(session.id)
            raise SignInRequired(back_to) from None
        session.data.update(tokens_kept(tokens, now))
        await ctx.sessions.save(session)
    person = Person(Principal.model_validate(session.data["principal"]), str(session.data.get("name", "")), session.data["access_token"], session)
    request.state.person = person
    return person


def tokens_kept(tokens: dict[str, Any], now: float) -> dict[str, Any]:
    """What a session keeps of the provider's token answer (`now`: the clock's time, in seconds)."""
    kept = {
        "access_token": tokens["access_token"],
        "expires_at": now + float(tokens.get("expires_in", 60)),
        "refresh_token": tokens.get("refresh_token"),
    }
    if tokens.get("id_token"):
        kept["id_token"] = tokens["id_token"]
    return kept


async def checked_form(request: Request, person: Annotated[Person, Depends(signed_in)]) -> dict[str, str]:
    """The posted form, once its CSRF token (field `csrf` or header `X-CSRF-Token`) is this session's."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not person.session.csrf_matches(request.headers.get("X-CSRF-Token") or form.get("csrf")):
        raise CsrfRefused()
    return form


SignedIn = Annotated[Person, Depends(signed_in)]
CheckedForm = Annotated[dict[str, str], Depends(checked_form)]
Context = Annotated[WebContext, Depends(context_dependency)]
