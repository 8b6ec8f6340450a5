"""The flow benchmark's load: N applications walked through the running platform, C at a time."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import httpx

from deploy.local.journey import Credentials, Identity, Journey, JourneyError, sample_application, walk

# The run's counsellors: each gets a fiftieth of the files, and only this run's alerts.
COUNSELLORS = 50


@dataclass
class JourneyRun:
    """What the concurrent journeys produced."""

    completed: list[Journey] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    started_at: float = 0.0  # epoch seconds
    wall: float = 0.0  # seconds from the first submission to the last journey's end



def _reason(exc: Exception) -> str:
    """A short, id-free description of why a journey failed, to group failures."""
    text = str(exc) if isinstance(exc, JourneyError) else f"{type(exc).__name__}: {exc}"
    return text[:160]


async def run_journeys(urls: Mapping[str, str], identity: Identity, n: int, concurrency: int, timeout: float) -> JourneyRun:
    """Walk `n` applications through the flow, `concurrency` at a time; failures are counted, not raised."""
    tag = uuid.uuid4().hex[:6]  # per-run counsellors: this run's alerts are the only ones they get
    today = date.today()
    result = JourneyRun()
    indices = iter(range(n))
    step = max(1, n // 10)
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    # Signed in before the clock starts: Keycloak creates the run's counsellors once, then gives tokens.
    people = [await Credentials.sign_in(identity, counsellor=f"c-bench-{tag}-{k}") for k in range(min(n, COUNSELLORS))]

    async def worker(client: httpx.AsyncClient) -> None:
        for i in indices:  # shared iterator: each index is taken by exactly one worker
            credentials = people[i % len(people)]
            try:
                result.completed.append(
                    await walk(
                        client, urls, today=today, credentials=credentials, application=sample_application(i), timeout=timeout
                    )
                )
            except (JourneyError, httpx.HTTPError) as exc:
                result.failures[_reason(exc)] += 1
            done = len(result.completed) + sum(result.failures.values())
            if done % step == 0:
                print(f"  {done}/{n} journeys done", file=sys.stderr, flush=True)

    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        result.started_at = time.time()
        began = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        result.wall = time.monotonic() - began
    return result
