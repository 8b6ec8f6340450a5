"""The flow benchmark's load: N applications walked through the running platform, C at a time or R a second."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import aiohttp

from bench.aio_client import AioClient
from bench.processes import machine_busy_seconds
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
    most_in_flight: int = 0
    busy_seconds: float = 0.0  # CPU the whole machine spent meanwhile (every core, every process)



def _reason(exc: Exception) -> str:
    """A short, id-free description of why a journey failed, to group failures."""
    text = str(exc) if isinstance(exc, JourneyError) else f"{type(exc).__name__}: {exc}"
    return text[:160]


async def run_journeys(
    urls: Mapping[str, str], identity: Identity, n: int, concurrency: int, timeout: float, rate: float | None = None,
    on_start: Callable[[], None] = lambda: None,
) -> JourneyRun:
    """Walk `n` applications through the flow, up to the disbursement's alert; failures are counted, not raised.

    Closed loop: `concurrency` journeys at a time, each starting when another ends. Open loop (`rate`):
    a journey starts every 1/`rate` seconds whatever the others are doing, as many in flight as that makes.
    `on_start` is called when the clock starts, once the run's counsellors are signed in.
    """
    tag = uuid.uuid4().hex[:6]  # per-run counsellors: this run's alerts are the only ones they get
    today = date.today()
    result = JourneyRun()
    step = max(1, n // 10)
    width = concurrency * 2 if rate is None else 400
    # Signed in before the clock starts: Keycloak creates the run's counsellors once, then gives tokens.
    people = [await Credentials.sign_in(identity, counsellor=f"c-bench-{tag}-{k}") for k in range(min(n, COUNSELLORS))]
    in_flight = 0

    async def journey(client: AioClient, i: int) -> None:
        nonlocal in_flight
        in_flight += 1
        result.most_in_flight = max(result.most_in_flight, in_flight)
        try:
            result.completed.append(await walk(
                client, urls, today=today, credentials=people[i % len(people)], application=sample_application(i), timeout=timeout,
                close_of_business=False,
            ))
        except (JourneyError, aiohttp.ClientError, TimeoutError) as exc:
            result.failures[_reason(exc)] += 1
        finally:
            in_flight -= 1
        done = len(result.completed) + sum(result.failures.values())
        if done % step == 0:
            print(f"  {done}/{n} journeys done", file=sys.stderr, flush=True)

    async def closed_loop(client: AioClient) -> None:
        indices = iter(range(n))

        async def worker() -> None:
            for i in indices:  # shared iterator: each index is taken by exactly one worker
                await journey(client, i)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def open_loop(client: AioClient, began: float) -> None:
        assert rate is not None
        tasks = []
        for i in range(n):
            await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(journey(client, i)))
        await asyncio.gather(*tasks)

    async with AioClient(width, timeout=30.0) as client:
        on_start()
        result.started_at = time.time()
        busy = machine_busy_seconds()
        began = time.monotonic()
        await (closed_loop(client) if rate is None else open_loop(client, began))
        result.wall = time.monotonic() - began
        result.busy_seconds = machine_busy_seconds() - busy
    return result
