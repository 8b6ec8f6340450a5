"""The directory's Kafka handler: from the applications stream, which files wait for which bank's decision.

It translates, it does not decide: a routing, a decision or a withdrawal becomes the use case that keeps
the count a bank's deactivation is checked against.
"""

from __future__ import annotations

import asyncpg

from services.directory import usecases
from services.directory.settings import DirectorySettings
from shared.events import ApplicationRouted, ApplicationWithdrawn, LoanApproved, LoanDeclined, Topics
from shared.runtime import ServiceContext

GROUP_ID = "directory"


def register(ctx: ServiceContext[DirectorySettings]) -> None:
    """Subscribe the directory to the applications stream."""

    async def on_routed(conn: asyncpg.Connection, event: ApplicationRouted) -> None:
        await usecases.file_routed(conn, event.data.application_id, event.data.bank_id)

    async def on_decided(conn: asyncpg.Connection, event: LoanApproved | LoanDeclined) -> None:
        await usecases.file_decided(conn, event.data.application_id, event.data.bank_id)

    async def on_withdrawn(conn: asyncpg.Connection, event: ApplicationWithdrawn) -> None:
        await usecases.file_withdrawn(conn, event.data.application_id)

    ctx.consume(
        GROUP_ID,
        (Topics.APPLICATIONS,),
        {ApplicationRouted: on_routed, LoanApproved: on_decided, LoanDeclined: on_decided, ApplicationWithdrawn: on_withdrawn},
    )
