"""The HTTP adapter of the webhooks: POST one signed body to a bank's endpoint and time its answer."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Answer:
    """How a bank's endpoint answered one attempt."""

    status_code: int | None  # None: no answer (network error, timeout)
    error: str | None  # None: a 2xx
    latency_ms: int
    failure: str | None = None  # the error's class, for the metrics: timeout, unreachable, network, status_4xx, status_5xx…


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url`; anything but a 2xx is an error, and so is no answer within the client's timeout."""
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body, headers=headers)
    except (httpx.HTTPError, OSError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], _since(started), failure_class(exc))
    if 200 <= response.status_code < 300:
        return Answer(response.status_code, None, _since(started))
    return Answer(response.status_code, f"HTTP {response.status_code}", _since(started), f"status_{response.status_code // 100}xx")


def failure_class(exc: BaseException) -> str:
    """A short class of a request that got no answer: `timeout`, `unreachable` (no connection: refused, DNS, TLS) or `network`."""
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return "timeout"
    if isinstance(exc, (httpx.ConnectError, ConnectionRefusedError)):
        return "unreachable"
    return "network"


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
