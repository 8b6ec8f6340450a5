"""The flow benchmark's HTTP client: aiohttp behind the two calls a journey makes (`deploy.local.journey.Client`).

The load generator shares the 2 cores with the platform it measures: httpx spends about 0.6 ms of CPU per
request here, aiohttp about 0.1 ms (`GET /health` in a loop, this machine), so the journeys leave that
much more of the machine to the services.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

_JSON = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class AioAnswer:
    """An answer read whole: its status and body."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.content)


class AioClient:
    """`get` and `post` as the journey calls them, on one aiohttp session (keep-alive connections, `width` at most)."""

    def __init__(self, width: int, timeout: float) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=width), timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def get(self, url: str, *, params: Mapping[str, str] | None = None,
                  headers: Mapping[str, str] | None = None) -> AioAnswer:
        """A GET, its answer read whole."""
        async with self._session.get(url, params=params, headers=headers) as answer:
            return AioAnswer(answer.status, await answer.read())

    async def post(self, url: str, *, json: Any = None, headers: Mapping[str, str] | None = None) -> AioAnswer:
        """A POST of `json`, its answer read whole."""
        body = jsonlib.dumps(json).encode()
        async with self._session.post(url, data=body, headers={**(headers or {}), **_JSON}) as answer:
            return AioAnswer(answer.status, await answer.read())

    async def __aenter__(self) -> AioClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()
