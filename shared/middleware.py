"""Pure ASGI middlewares of every service's HTTP API.

Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) runs the rest of the app in a task of its
own and carries the answer back through a memory stream: a task, a task group and a stream per
request and per middleware. These wrap `send` instead, and cost a function call per message.
"""

from __future__ import annotations

import time

from opentelemetry import trace
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Probes and scrapes: counted by whoever calls them, not as the service's traffic.
UNCOUNTED_PATHS = frozenset({"/health", "/ready", "/metrics"})


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (`name` in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class RequestTelemetry:
    """Observe each request in the HTTP histogram and tell the caller which trace it joined.

    The histogram is per route template (`/loans/{loan_id}`), never per raw path: a bounded set of
    series. The `traceresponse` header (W3C Trace Context level 2) names the request's server span.
    """

    def __init__(self, app: ASGIApp, histogram: Histogram | None) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        span_context = trace.get_current_span().get_span_context()  # the server span, opened outside this middleware
        traceresponse = (
            f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-01".encode() if span_context.is_valid else None
        )
        status = 500

        async def send_told(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if traceresponse is not None:
                    message["headers"] = [*message.get("headers", ()), (b"traceresponse", traceresponse)]
            await send(message)

        try:
            await self.app(scope, receive, send_told)
        finally:
            path = getattr(scope.get("route"), "path", None)
            if self.histogram is not None and path not in UNCOUNTED_PATHS:
                self.histogram.labels(path or "unmatched", scope["method"], str(status)).observe(time.perf_counter() - started)
