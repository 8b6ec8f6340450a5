"""Assessment's Kafka handlers: intake's files on the applications stream, banks' decisions on their own topic."""

from __future__ import annotations

import asyncpg
from pydantic import ValidationError

from services.assessment import decision, domain, repository, usecases
from services.assessment.domain import Actor
from services.assessment.policy import policy_for, usury_table
from services.assessment.settings import AssessmentSettings
from shared.consumer import EventRejected
from shared.errors import BusinessRuleError
from shared.events import ApplicationSubmitted, ApplicationUpdated, ApplicationWithdrawn, BankDecision, Topics
from shared.runtime import ServiceContext

GROUP_ID = "assessment"
BANK_DECISIONS_GROUP_ID = "assessment-bank-decisions"
_TERMS = frozenset(decision.BankDecisionTerms.model_fields)


def register(ctx: ServiceContext) -> None:
    """Subscribe assessment to the applications stream and to the partner banks' decisions."""
    settings = ctx.settings
    assert isinstance(settings, AssessmentSettings)
    usury_table(settings.usury_caps_path)  # a broken caps file stops the service at start, not at the first file

    async def on_submitted(conn: asyncpg.Connection, event: ApplicationSubmitted) -> None:
        # A file is opened once, whatever the event id a replay carries.
        if await repository.get(conn, event.data.application_id) is not None:
            return
        policy = policy_for(settings, event.data.association_id)
        actor = Actor(id=event.source, role="system")
        await usecases.store(conn, domain.open_file(event.data, policy, actor, ctx.clock.now()))

    async def on_updated(conn: asyncpg.Connection, event: ApplicationUpdated) -> None:
        data, now, actor = event.data, ctx.clock.now(), Actor(id=event.source, role="system")
        policy = policy_for(settings, data.association_id)
        current = await repository.get(conn, data.application_id, for_update=True)
        change = (
            domain.open_file(data, policy, actor, now)
            if current is None
            else domain.update_file(current, data, data.changed_fields, policy, actor, now)
        )
        if change is not None:
            await usecases.store(conn, change)

    async def on_withdrawn(conn: asyncpg.Connection, event: ApplicationWithdrawn) -> None:
        current = await repository.get(conn, event.data.application_id, for_update=True)
        if current is None:
            return
        actor = Actor(id=event.source, role="system")
        change = domain.withdraw(current, event.data.reason, event.data.withdrawn_by, actor, ctx.clock.now())
        if change is not None:
            await usecases.store(conn, change)

    async def on_bank_decision(conn: asyncpg.Connection, event: BankDecision) -> None:
        data = event.data
        current = await repository.get(conn, data.application_id, for_update=True)
        if current is None or current.routed_at is None or current.bank_id != data.bank_id:
            raise EventRejected(f"no file {data.application_id} is routed to {data.bank_id}")
        try:
            terms = decision.BankDecisionTerms.model_validate(data.model_dump(include=_TERMS))
        except ValidationError as invalid:
            raise EventRejected(f"incomplete or invalid decision: {invalid.errors()[0]['msg']}") from None
        if decision.is_repeat(current, data.bank_id, terms):
            return  # the same decision sent again: already applied
        try:
            change = decision.record_bank_decision(
                current, data.bank_id, terms, usury_table(settings.usury_caps_path), Actor(id=data.bank_id, role="bank"),
                ctx.clock.now(), channel="kafka",
            )
        except BusinessRuleError as refused:
            raise EventRejected(f"{refused.field}: {refused.detail}") from None
        await usecases.store(conn, change)

    ctx.consume(
        GROUP_ID,
        (Topics.APPLICATIONS,),
        {ApplicationSubmitted: on_submitted, ApplicationUpdated: on_updated, ApplicationWithdrawn: on_withdrawn},
    )
    ctx.consume(BANK_DECISIONS_GROUP_ID, (Topics.BANK_DECISIONS,), {BankDecision: on_bank_decision})
