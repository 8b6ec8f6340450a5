"""Privacy service assembly: the DPO's API, the ledger kept from the streams, the daily retention job."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from services.privacy import usecases
from services.privacy.api import router
from services.privacy.handlers import register
from services.privacy.settings import PrivacySettings
from shared import events
from shared.clock import business_day
from shared.privacy.retention import load_rules
from shared.runtime import ServiceContext, ServiceDefinition
from shared.timers import Timer

RETENTION_FAILPOINT = "retention_after_chunk"


class RetentionDone(BaseModel):
    """What the day's retention run has done so far."""

    erased: int = Field(description="Subjects erased by the day's retention run.")
    anonymised: int = Field(description="Subjects anonymised by the day's retention run.")
    held: int = Field(description="Subjects due but restricted, kept by the day's retention run.")


async def run_retention(ctx: ServiceContext[PrivacySettings]) -> RetentionDone:
    """The retention run of the clock's day (France): a finished run finds nothing more to do, an interrupted one resumes."""
    now = ctx.clock.now()

    async def after_chunk(number: int) -> None:
        ctx.failpoints.hit(RETENTION_FAILPOINT, str(number))

    report = await usecases.retention_run(
        ctx.pool, ctx.settings.keyring(), load_rules(ctx.settings.retention_rules), run_date=business_day(now), now=now,
        chunk_size=ctx.settings.retention_chunk_size, after_chunk=after_chunk,
    )
    return RetentionDone(erased=report["erased"], anonymised=report["anonymised"], held=report["held"])


DEFINITION = ServiceDefinition(
    name="privacy",
    title="Microcredit privacy",
    description=(
        "The data protection officer's service: a ledger of each file's data subject (no personal data), the daily "
        "retention job that erases or anonymises what is kept too long, and the person's rights to erasure and restriction."
    ),
    schema="privacy",
    migrations=Path(__file__).parent / "migrations",
    router=router,
    settings_cls=PrivacySettings,
    register_consumers=register,
    timers=(Timer("retention", lambda s: s.retention_interval_seconds, run_retention, RetentionDone),),
    publishes=(events.PersonErased, events.PersonRestricted),
)

create_app = DEFINITION.create_app
