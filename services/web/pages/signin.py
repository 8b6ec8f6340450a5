"""Sign-in with the provider (authorisation code + PKCE) and sign-out, which ends the provider's session too."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.context import CheckedForm, Context, SignedIn, tokens_kept
from services.web.sessions import COOKIE
from services.web.signin import SignInError
from shared.oidc import TokenRefused

router = APIRouter()


def safe_return(path: str | None) -> str:
    """Only a path of this site (never another site's address) is a place to return to."""
    return path if path and path.startswith("/") and not path.startswith("//") else "/"


@router.get("/connexion")
async def start_sign_in(ctx: Context, retour: str | None = None) -> Response:
    """Send the browser to the provider's sign-in page; the round trip's secrets stay in the session."""
    url, round_trip = await ctx.provider.start()
    await ctx.sessions.purge()  # each new session sweeps the ended ones away
    session = await ctx.sessions.create({"round_trip": {**round_trip, "back_to": safe_return(retour)}}, ctx.session_ttl)
    response = RedirectResponse(url, status_code=303)
    ctx.set_cookie(response, session)  # type: ignore[arg-type]
    return response


@router.get("/auth/callback")
async def finish_sign_in(request: Request, ctx: Context, code: str | None = None, state: str | None = None) -> Response:
    """The provider sends the browser back with a code: check the state, exchange the code, open the session."""
    session = await ctx.sessions.load(request.cookies.get(COOKIE))
    round_trip = session.data.get("round_trip") if session else None
    if session is None or not round_trip or not code or state != round_trip.get("state"):
        return ctx.render(request, "error.html", None, status_code=400, title="Connexion interrompue",
                          text="La connexion n'a pas pu aboutir (lien expiré ou ouvert dans un autre navigateur). Recommencez.",
                          retry=True)
    try:
        tokens = await ctx.provider.finish(code, round_trip["verifier"])
        principal, name = await ctx.provider.person(tokens)
    except (SignInError, TokenRefused, KeyError):
        return ctx.render(request, "error.html", None, status_code=400, title="Connexion refusée",
                          text="Le service d'identité n'a pas confirmé votre connexion. Recommencez.", retry=True)
    signed = await ctx.sessions.rotate(session, {
        **tokens_kept(tokens, ctx.clock.now().timestamp()), "principal": principal.model_dump(mode="json"), "name": name,
    }, ctx.session_ttl)
    response = RedirectResponse(round_trip.get("back_to") or "/", status_code=303)
    ctx.set_cookie(response, signed)  # type: ignore[arg-type]
    return response


@router.post("/deconnexion")
async def sign_out(person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """End the session here and at the provider."""
    await ctx.sessions.delete(person.session.id)
    response = RedirectResponse(await ctx.provider.end_session_url(person.session.data.get("id_token")), status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
