"""The services' HTTP APIs, called with the signed-in person's own access token.

The workspace decides nothing about who may see what: a file of another association answers 404 from
intake, and the page says « introuvable » exactly as for an unknown one.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
from opentelemetry import propagate

from services.web.settings import WebSettings

# How many times a form sent twice waits for the answer to its first sending (a second each, as `Retry-After` says).
_IN_USE_WAITS = 10


class BackendError(Exception):
    """A service answered with a problem (or did not answer)."""

    def __init__(self, status: int, problem: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {problem}")
        self.status = status
        self.problem = problem or {}


class Backends:
    """One HTTP client per service."""

    def __init__(self, settings: WebSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        urls = {
            "intake": settings.intake_url, "assessment": settings.assessment_url, "servicing": settings.servicing_url,
            "notifications": settings.notifications_url, "directory": settings.directory_url, "privacy": settings.privacy_url,
        }
        self._clients = {name: httpx.AsyncClient(base_url=url, timeout=30, transport=transport) for name, url in urls.items()}

    async def call(
        self, service: str, method: str, path: str, token: str, *, params: dict[str, Any] | None = None, body: Any = None,
        once: str | None = None,
    ) -> Any:
        """The JSON answer of `method path` on `service` as the person; a `BackendError` for any 4xx/5xx.

        `once`: the key a creating form was rendered with (`idempotency_key`), sent as the `Idempotency-Key`
        so that the same form sent twice (a double click, a page sent again) creates one thing.
        """
        headers = {"Authorization": f"Bearer {token}"}
        if once is not None and _is_uuid(once):
            headers["Idempotency-Key"] = f'"{once}"'
        propagate.inject(headers)  # the page's trace continues in the service
        for _ in range(_IN_USE_WAITS):
            answer = await self._send(service, method, path, params=params, body=body, headers=headers)
            if answer.status_code != 409 or not _in_use(answer):
                break
            # The same form, sent a moment before, is still being handled: wait for its answer rather than show an error.
            delay = answer.headers.get("Retry-After", "1")
            await asyncio.sleep(float(delay) if delay.isdigit() else 1.0)
        if answer.status_code >= 400:
            try:
                problem = answer.json()
            except ValueError:
                problem = {"detail": answer.text[:200]}
            raise BackendError(answer.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
        return answer.json() if answer.content else None

    async def _send(
        self, service: str, method: str, path: str, *, params: dict[str, Any] | None, body: Any, headers: dict[str, str]
    ) -> httpx.Response:
        try:
            return await self._clients[service].request(method, path, params=params, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendError(503, {"detail": f"{service} ne répond pas ({type(exc).__name__})"}) from exc

    async def aclose(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            await client.aclose()


def _in_use(answer: httpx.Response) -> bool:
    """Whether a 409 says the first request with the same `Idempotency-Key` is still running."""
    try:
        errors = answer.json().get("errors", [])
    except (ValueError, AttributeError):
        return False
    return any(e.get("rule") == "idempotency_key_in_use" for e in errors if isinstance(e, dict))


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True
