"""The services' HTTP APIs, called with the signed-in person's own access token.

The workspace decides nothing about who may see what: a file of another association answers 404 from
intake, and the page says « introuvable » exactly as for an unknown one.
"""

from __future__ import annotations

from typing import Any

import httpx
from opentelemetry import propagate

from services.web.settings import WebSettings


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
            "notifications": settings.notifications_url, "directory": settings.directory_url,
        }
        self._clients = {name: httpx.AsyncClient(base_url=url, timeout=30, transport=transport) for name, url in urls.items()}

    async def call(
        self, service: str, method: str, path: str, token: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        """The JSON answer of `method path` on `service` as the person; a `BackendError` for any 4xx/5xx."""
        headers = {"Authorization": f"Bearer {token}"}
        propagate.inject(headers)  # the page's trace continues in the service
        try:
            answer = await self._clients[service].request(method, path, params=params, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendError(503, {"detail": f"{service} ne répond pas ({type(exc).__name__})"}) from exc
        if answer.status_code >= 400:
            try:
                problem = answer.json()
            except ValueError:
                problem = {"detail": answer.text[:200]}
            raise BackendError(answer.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
        return answer.json() if answer.content else None

    async def aclose(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            await client.aclose()
