"""A service's timers, declared once: each runs periodically in the background and on demand at `POST /operations/timers`.

A timer's job takes the service context, runs at the context clock's instant, and returns what it did
as a small pydantic model of counts; the endpoint's answer gathers those counts, so the periodic task
and the on-demand run cannot drift apart.
"""

# No `from __future__ import annotations`: the endpoint below uses models built at run time, which
# FastAPI must see as objects, not as names to look up.
import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, create_model

from shared.auth import Ops
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
SettingsT_co = TypeVar("SettingsT_co", bound=ServiceSettings, covariant=True)


class ServiceContext(Protocol[SettingsT_co]):
    """What a timer's job gets: `shared.runtime.ServiceContext` (named here so runtime can import timers)."""

    name: str

    @property
    def settings(self) -> SettingsT_co: ...


@dataclass(frozen=True)
class Timer(Generic[SettingsT]):
    """One periodic job of a service."""

    name: str
    interval: Callable[[SettingsT], float]  # seconds between two background runs, from the settings
    run: Callable[["ServiceContext[SettingsT]"], Awaitable[BaseModel]]  # what it did, as counts
    report: type[BaseModel]  # the model `run` returns: its fields appear in the endpoint's answer


def periodic(timer: "Timer[SettingsT]") -> Callable[["ServiceContext[SettingsT]"], Awaitable[None]]:
    """The background task of a timer: runs it every interval; a failure is logged, not fatal."""

    async def loop(ctx: "ServiceContext[SettingsT]") -> None:
        while True:
            await asyncio.sleep(float(timer.interval(ctx.settings)))
            try:
                await timer.run(ctx)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer %s of %s failed; it runs again next period", timer.name, ctx.name)

    return loop


def timers_router(service: str, timers: Sequence["Timer[Any]"], context: Callable[..., Any]) -> APIRouter:
    """`POST /operations/timers`: run some or all of the timers now (ops only)."""
    names = StrEnum(f"{service.title()}Timer", {t.name.upper(): t.name for t in timers})  # type: ignore[misc]
    declared = len(timers)
    counts: dict[str, Any] = {}
    for timer in timers:
        for field, info in timer.report.model_fields.items():
            counts[field] = (int, Field(0, description=info.description))
    report = create_model(  # type: ignore[call-overload]
        f"{service.title()}TimersRun",
        __doc__="What a run of the timers did.",
        ran_at=(datetime, Field(description="The service clock's instant the timers ran at.")),
        **counts,
    )

    class RunTimers(BaseModel):
        """Which timers to run now (all by default, in the order the service declares them)."""

        model_config = ConfigDict(extra="forbid", title=f"{service.title()}RunTimers")

        timers: list[names] = Field(  # type: ignore[valid-type]
            default_factory=lambda: list(names), min_length=1, max_length=declared, description="Timer names."
        )

    router = APIRouter(prefix="/operations", tags=["operations"])

    @router.post("/timers", response_model=report, summary="Run the timers now")
    async def run_timers(_ops: Ops, ctx: Any = Depends(context), body: RunTimers = RunTimers()) -> Any:
        """On demand, at the service clock's instant, what the background tasks do periodically."""
        chosen = set(body.timers)
        done: dict[str, int] = {}
        for timer in timers:
            if timer.name in chosen:
                done.update((await timer.run(ctx)).model_dump())
        return report(ran_at=ctx.clock.now(), **done)

    return router
