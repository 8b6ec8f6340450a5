"""The web workspace's app: sign-in, sessions, security headers, the pages; `create_app()`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web import labels
from services.web.backends import BackendError, Backends
from services.web.context import CsrfRefused, SignInRequired, WebContext
from services.web.pages import (
    alerts, bank, contacts, directory, feeds, files, home, loans, operations, privacy, review, signin, supervision,
)
from services.web.sessions import SessionStore
from services.web.settings import WebSettings
from services.web.signin import Provider
from shared.clock import Clock, SystemClock
from shared.db import create_pool, migrate
from shared.oidc import KeySet, TokenVerifier

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
VENDOR = HERE / "node_modules"
SCHEMA = "web"


def content_security_policy(settings: WebSettings) -> str:
    """No inline script or style, nothing from elsewhere; forms post here, or to the provider's sign-out."""
    provider = "/".join(settings.oidc_issuer.split("/")[:3])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"form-action 'self' {provider}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


class SecurityHeaders:
    """Every page's security headers, and its cache policy (pure ASGI: no task per request)."""

    def __init__(self, app: ASGIApp, *, csp: str) -> None:
        self.app = app
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = "public, max-age=3600" if scope["path"].startswith("/static/") else "no-store"

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["Cache-Control"] = cache
            await send(message)

        await self.app(scope, receive, send_secured)


def create_app(
    settings: WebSettings | None = None, *, clock: Clock | None = None, keys: KeySet | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The workspace, with settings from the environment unless given."""
    settings = settings or WebSettings()  # type: ignore[call-arg]
    clock = clock or SystemClock()
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(labels.FILTERS)
    templates.env.globals.update(
        labels.LABELS, trace_id=labels.trace_id, trace_url=settings.trace_url, idempotency_key=lambda: str(uuid4())
    )
    csp = content_security_policy(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url.get_secret_value(), SCHEMA, max_size=5)
        await migrate(pool, SCHEMA, [HERE / "migrations"])
        http = httpx.AsyncClient(timeout=30)
        keyset = keys or KeySet(settings.oidc_issuer, now=clock.now, jwks_url=settings.oidc_jwks_url)
        verifier = TokenVerifier(keyset, audience=settings.oidc_audience, leeway_seconds=30.0, now=clock.now)
        id_verifier = TokenVerifier(keyset, audience=settings.oidc_client_id, leeway_seconds=30.0, now=clock.now)
        backends = Backends(settings, transport)
        app.state.ctx = WebContext(
            settings, templates, SessionStore(pool, clock), Provider(settings, http, verifier, id_verifier), backends, clock,
            timedelta(hours=settings.session_hours),
        )
        try:
            yield
        finally:
            await backends.aclose()
            await http.aclose()
            await keyset.aclose()
            await pool.close()

    app = FastAPI(title="Espace de travail du microcrédit", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.close_runs = operations.Runs()  # the closes of business this process sent and still waits for

    app.add_middleware(SecurityHeaders, csp=csp)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        target = "/connexion" + (f"?retour={exc.back_to}" if exc.back_to and exc.back_to != "/" else "")
        if request.headers.get("HX-Request"):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(BackendError)
    async def backend_refused(request: Request, exc: BackendError) -> Response:
        ctx: WebContext = request.app.state.ctx
        if exc.status == 401:
            return await sign_in_first(request, SignInRequired(request.url.path))
        return ctx.error_page(request, exc.status)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return request.app.state.ctx.render(
            request, "error.html", getattr(request.state, "person", None), status_code=403, title="Formulaire expiré",
            text="Ce formulaire n'est plus valable (page trop ancienne ou ouverte ailleurs). Rechargez la page et recommencez.",
        )

    @app.exception_handler(RequestValidationError)
    async def unknown_address(request: Request, exc: RequestValidationError) -> Response:
        # An address whose id is not even an id names nothing: the same page as any unknown object.
        return request.app.state.ctx.error_page(request, 404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return request.app.state.ctx.error_page(request, exc.status_code)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready(request: Request) -> Response:
        ctx: WebContext = request.app.state.ctx
        try:
            await ctx.sessions.alive()
            await ctx.provider.metadata()
        except Exception as exc:  # the database or the provider does not answer yet
            log.info("not ready: %s", exc)
            return HTMLResponse("pas prêt", status_code=503)
        return HTMLResponse("prêt")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get("/static/vendor/htmx.min.js", include_in_schema=False)
    async def htmx() -> FileResponse:
        return FileResponse(VENDOR / "htmx.org" / "dist" / "htmx.min.js", media_type="text/javascript")

    # Each page is a span; the services' calls carry its context (backends.py), so one trace follows a click.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health,ready,static,favicon.ico", exclude_spans=["receive", "send"])
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (signin, home, alerts, contacts, files, review, bank, loans, operations, supervision, directory, feeds, privacy):
        app.include_router(module.router)
    return app
