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


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url`; anything but a 2xx is an error, and so is no answer within the client's timeout."""
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body, headers=headers)
    except (httpx.HTTPError, OSError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], _since(started))
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Answer(response.status_code, error, _since(started))


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
