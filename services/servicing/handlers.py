"""Servicing's Kafka handlers: a bank approval opens a loan."""

from __future__ import annotations

import asyncpg

from services.servicing import domain, repository
from shared.events import LoanApproved, Topics
from shared.runtime import ServiceContext

GROUP_ID = "servicing"


def register(ctx: ServiceContext) -> None:
    """Subscribe servicing to the applications stream (loan approvals)."""

    async def on_loan_approved(conn: asyncpg.Connection, event: LoanApproved) -> None:
        loan, schedule = domain.open_loan(event, ctx.clock.now())
        await repository.insert_loan(conn, loan, schedule)

    ctx.consume(GROUP_ID, (Topics.APPLICATIONS,), {LoanApproved: on_loan_approved})
