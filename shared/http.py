"""RFC 9457 problem documents: every error an HTTP client can cause answers 4xx naming field and rule."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import BusinessRuleError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://microcredit.example.org/problems/"


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


def problem_response(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
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
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "amount_cents") -> "amount_cents"; keep "query."/"path." so the client knows where.
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    """Turn validation errors, HTTP errors, `Problem`s and bugs into problem documents."""

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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem_response(exc.status_code, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "Internal error", "an unexpected error occurred; it has been logged")
