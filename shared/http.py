"""RFC 9457 problem documents: every error an HTTP client can cause answers 4xx naming field and rule.

Also what every list and every body shares: bounded paging, and JSON bodies only (415 otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi import routing
from fastapi.routing import APIRoute
from opentelemetry import trace
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import BusinessRuleError
from shared.middleware import header

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://microcredit.example.org/problems/"
MAX_PAGE_SIZE = 500
MAX_OFFSET = 100_000
RETRY_AFTER_SECONDS = 5

# What the database driver raises when Postgres is down, restarting, shutting down or saturated: 503, retry later.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # connection refused or reset, no answer in time (asyncio's TimeoutError is an OSError)
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08: the connection failed or was lost mid-statement
    asyncpg.CannotConnectNowError,  # 57P03: the database system is starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminating connection due to administrator command (a restart)
    asyncpg.CrashShutdownError,  # 57P02: another server process crashed, every connection is cut
    asyncpg.TooManyConnectionsError,  # 53300: no connection slot left
    asyncpg.InterfaceError,  # only on a closed connection or pool (see `database_unavailable`)
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached now (503), rather than that the code is wrong (500).

    asyncpg raises `InterfaceError` both on a connection or pool that is closed (an outage) and on misuse,
    such as two statements at once on one connection (a bug): only the first is an outage.
    """
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc) or "closing" in str(exc)
    return isinstance(exc, UNAVAILABLE)


def unavailable_response() -> JSONResponse:
    """The 503 problem a request gets while the database does not answer, with `Retry-After`."""
    return problem_response(
        503, "Service unavailable", "the database does not answer; retry in a few seconds",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class ProblemError(BaseModel):
    """One thing wrong with the request: where, which rule, and what to do."""

    field: str = Field(description="The field at fault: `amount_cents`, `applicant.birth_date`, `query.limit`, `path.loan_id`, `body`…")
    rule: str = Field(description="The rule it breaks, stable for programs: `less_than_equal`, `not_future`, `forbidden_role`…")
    message: str = Field(description="What is wrong, for a person.")


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document, served as `application/problem+json`."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[ProblemError] = Field(default_factory=list, description="Each field at fault, with its rule.")
    trace_id: str | None = Field(None, description="The trace of the request, for ops.")


class Problem(Exception):
    """A business error to answer as a problem document (e.g. 404 unknown loan, 409 wrong state)."""

    def __init__(
        self, status: int, title: str, detail: str, *, field: str | None = None, rule: str | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.field, self.rule = status, title, detail, field, rule


def not_found(kind: str, ident: object) -> Problem:
    """A 404 problem for an unknown (or not visible) object."""
    return Problem(404, f"{kind} not found", f"no {kind} with id {ident}")


def problem_response(status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """Build a problem+json response, with the trace id so ops can find the request."""
    ctx = trace.get_current_span().get_span_context()
    body = {
        "type": PROBLEM_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    if ctx.is_valid:
        body["trace_id"] = format(ctx.trace_id, "032x")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


@dataclass(frozen=True)
class Page:
    """Which page of a list: `limit` items after `offset`, both bounded."""

    limit: int = 50
    offset: int = 0


async def total_of(found: int, page: Page | tuple[int, int], count: Callable[[], Awaitable[int]]) -> int:
    """How many items match in all: shown by the page itself when it stops before its limit without being past
    the end (`offset` + what it holds), else `count()` (the list's count query, one more statement)."""
    limit, offset = (page.limit, page.offset) if isinstance(page, Page) else page
    if found < limit and (found or not offset):
        return offset + found
    return int(await count())


async def page_query(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="How many items at most.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip.")] = 0,
) -> Page:
    """FastAPI dependency: the page a list's query asks for (async: FastAPI runs a plain `def` in a worker thread)."""
    return Page(limit, offset)


PageQuery = Annotated[Page, Depends(page_query)]

TOTAL_COUNT = "X-Total-Count"
# `responses=` of a paged list: its 200 carries how many items match in all.
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL_COUNT: {
                "description": "How many items match in all, for paging.",
                "required": True,
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    }
}


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "amount_cents") -> "amount_cents"; keep "query."/"path." so the client knows where.
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def install_problem_handlers(app: FastAPI) -> None:
    """Turn validation errors, HTTP errors, `Problem`s, outages and bugs into problem documents."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                # A JSON syntax error's location is a character offset, not a field.
                "field": "body" if e.get("type") == "json_invalid" else _field(tuple(e.get("loc", ()))),
                "rule": e.get("type", "invalid"),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(422, "Invalid request", f"invalid field(s): {fields}", errors=errors)

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        extra: dict[str, Any] = {}
        if exc.field:
            extra["errors"] = [{"field": exc.field, "rule": exc.rule or "invalid", "message": exc.detail}]
        return problem_response(exc.status, exc.title, exc.detail, **extra)

    @app.exception_handler(BusinessRuleError)
    async def _rule(_: Request, exc: BusinessRuleError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if exc.field:
            extra["errors"] = [{"field": exc.field, "rule": exc.rule, "message": exc.detail}]
        return problem_response(exc.status, "Business rule violated", exc.detail, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        extra: dict[str, Any] = {}
        if exc.status_code == 405:
            # Starlette names the methods of the one route it tried; the resource may have several.
            methods = _methods_of_path(app, request)
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        elif exc.status_code == 400:
            # FastAPI could not read the body at all (not UTF-8, cut short): a fault of the body as a whole.
            extra["errors"] = [{"field": "body", "rule": "body_unreadable", "message": str(exc.detail)}]
        title = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem_response(exc.status_code, title, str(exc.detail), headers=headers, **extra)

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        # Answered here, inside the app: the request is counted and traced as the 503 it gets, not as a 500.
        if not database_unavailable(exc):
            return _internal_error(exc)
        log.warning("database unavailable: %r", exc)
        return unavailable_response()

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        # What no handler above took, raised here or by a middleware outside them.
        if database_unavailable(exc):
            log.warning("database unavailable: %r", exc)
            return unavailable_response()
        return _internal_error(exc)

    app.add_middleware(JsonBodiesOnly, api=app)


def _internal_error(exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return problem_response(500, "Internal error", "an unexpected error occurred; it has been logged")


class JsonBodiesOnly:
    """Answer 415 to a body that is not JSON, before FastAPI reads it (pure ASGI: no task per request)."""

    def __init__(self, app: ASGIApp, *, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            content_type = header(scope, b"content-type")
            if content_type is not None and not _is_json(content_type) and _takes_body(self.api, scope):
                refused = problem_response(
                    415, "Unsupported media type", f"the body must be JSON (Content-Type: application/json), not {content_type}",
                    errors=[{"field": "Content-Type", "rule": "json_required", "message": "send the body as application/json"}],
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route of the app as it is served: included routers' prefixes and dependencies applied."""
    return [ctx for ctx in routing.iter_route_contexts(app.router.routes) if isinstance(ctx.original_route, APIRoute)]


def _methods_of_path(app: FastAPI, request: Request) -> set[str]:
    """The methods the routes at this request's path accept."""
    return {
        method for route in api_routes(app) if route.matches(request.scope)[0] is not Match.NONE for method in route.methods
    }


def route_of(app: FastAPI, scope: Scope) -> Any | None:
    """The API route a request goes to, as the router would set it in `scope["route"]` (None if none matches)."""
    for route in api_routes(app):
        if route.matches(scope)[0] is Match.FULL:
            return route.original_route
    return None


def _takes_body(app: FastAPI, scope: Scope) -> bool:
    """Whether the route this request goes to reads a JSON body."""
    for route in api_routes(app):
        if route.matches(scope)[0] is Match.FULL:
            return route.body_field is not None
    return False
