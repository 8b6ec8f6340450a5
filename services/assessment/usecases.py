"""Assessment's use cases, one per command: let the domain decide on the file as it is, store what it decided.

A change is written at once: the new state, its audit entries and its events (outbox). In a consumer's
transaction the file is locked, then stored with the batch's outbox rows; a command over HTTP reads the file
with its version and writes everything in one statement, only if the file is still that version (`_command`).
The HTTP API and the Kafka handlers call the same function for the same command, so they give the same
answer: the bank's decision is one use case whether the bank posts it or writes it to its topic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from services.assessment import repository
from services.assessment.domain import access, decision, outcome, review
from services.assessment.domain.assessment import Assessment, AuditEntry, Change, DirectoryTerms, Policy
from services.assessment.settings import AssessmentSettings
from shared.auth import Actor, Principal
from shared.events import ApplicationSubmittedData, ApplicationUpdatedData, ApplicationWithdrawnData
from shared.events import DirectoryAssociationData, DirectoryBankData, DirectoryNetworkData
from shared.outbox import add_to_outbox
from shared.privacy.erasure import forget_stored_responses
from shared.runtime import ServiceContext
from shared.versioned import CHANGED, Changed, retry_while_changed

TIMER = Actor.system("/services/assessment/timers")
OVERDUE_BATCH = 200


async def _store(conn: asyncpg.Connection, change: Change) -> Assessment:
    await repository.save(conn, change.assessment, change.audit)
    await add_to_outbox(conn, *change.events)
    return change.assessment


async def _command(
    conn: asyncpg.Connection,
    application_id: UUID,
    decide: Callable[[Assessment], Awaitable[Change | None]],
    *,
    visible: Callable[[Assessment], bool] = lambda _: True,
) -> Assessment | None:
    """Let `decide` change one file and store it; the file as it is then, or None if it is unknown or not `visible`.

    In the caller's transaction (a consumer's batch), the file is locked and the change joins the batch's outbox rows.
    Outside one (an HTTP command), the file is read with its version and the change written in one statement, only
    if the file is still that version (`repository.store`, `shared.versioned`); a change that landed meanwhile wins
    the race, and the decision is taken again on the file as it is then.
    """
    if conn.is_in_transaction():
        current = await repository.get(conn, application_id, for_update=True)
        if current is None or not visible(current):
            return None
        change = await decide(current)
        return current if change is None else await _store(conn, change)

    async def attempt() -> Assessment | None | Changed:
        found = await repository.get_versioned(conn, application_id)
        if found is None or not visible(found[0]):
            return None
        current, version = found
        change = await decide(current)
        if change is None:
            return current
        stored = await repository.store(conn, change.assessment, change.audit, change.events, version=version)
        return change.assessment if stored else CHANGED

    return await retry_while_changed(attempt, what="the file", field="application_id")


async def _policy(conn: asyncpg.Connection, settings: AssessmentSettings, association_id: str) -> Policy:
    """The policy in force now: the directory's terms as assessment's copy holds them, with the settings."""
    return settings.policy_for(await repository.directory_terms(conn, association_id))


# --- intake's events ------------------------------------------------------------------------------


@dataclass
class Openings:
    """What opening a run of submitted files needs, read once: the files opened already (those the run opens added
    as it goes, so the same file twice opens once), each association's directory terms, the files left to store."""

    opened: set[UUID]
    terms: dict[str, DirectoryTerms]
    to_store: list[Change] = field(default_factory=list)


async def prepare_openings(conn: asyncpg.Connection, files: Sequence[ApplicationSubmittedData]) -> Openings:
    """One query for a run of submitted files: which are opened already, and their associations' terms."""
    opened, terms = await repository.openings(
        conn, {d.application_id for d in files}, {d.association_id for d in files}
    )
    return Openings(opened, terms)


async def open_file(
    conn: asyncpg.Connection,
    data: ApplicationSubmittedData,
    openings: Openings,
    *,
    settings: AssessmentSettings,
    actor: Actor,
    now: datetime,
) -> None:
    """A submitted application enters the review queue; opened once, whatever the event id a replay carries.

    Its events go to the outbox now (under the event's trace); the file itself is written by `store_openings`.
    """
    if data.application_id in openings.opened:
        return
    terms = openings.terms.get(data.association_id, DirectoryTerms())
    change = review.open_file(data, settings.policy_for(terms), actor, now)
    openings.opened.add(data.application_id)
    openings.to_store.append(change)
    await add_to_outbox(conn, *change.events)


async def store_openings(conn: asyncpg.Connection, openings: Openings) -> None:
    """Write the files a run opened, with their audit entries, in one round trip."""
    if openings.to_store:
        await repository.save_many(conn, [(c.assessment, c.audit) for c in openings.to_store])
        openings.to_store.clear()


async def update_file(
    conn: asyncpg.Connection, data: ApplicationUpdatedData, *, settings: AssessmentSettings, actor: Actor, now: datetime
) -> None:
    """Intake's new version of a file: reviewed again while still under review (opened if assessment missed it).

    A version of a file whose person was erased is ignored (a late redelivery must not bring them back).
    """
    if await repository.is_erased(conn, data.application_id):
        return
    policy = await _policy(conn, settings, data.association_id)
    current = await repository.get(conn, data.application_id, for_update=True)
    change = (
        review.open_file(data, policy, actor, now)
        if current is None
        else review.update_file(current, data, data.changed_fields, policy, actor, now)
    )
    if change is not None:
        await _store(conn, change)


async def withdraw_file(conn: asyncpg.Connection, data: ApplicationWithdrawnData, *, actor: Actor, now: datetime) -> None:
    """The applicant withdrew: the file closes unless the bank already decided."""
    current = await repository.get(conn, data.application_id, for_update=True)
    if current is None:
        return
    change = review.withdraw(current, data.reason, data.withdrawn_by, actor, now)
    if change is not None:
        await _store(conn, change)


# --- the counsellors' review ----------------------------------------------------------------------


async def record_ficp(
    conn: asyncpg.Connection,
    application_id: UUID,
    record: review.FicpRecord,
    *,
    caller: Principal,
    settings: AssessmentSettings,
    now: datetime,
) -> Assessment | None:
    """Keep the FICP consultation and re-run the checks; None if the caller's association holds no such file."""

    async def decide(current: Assessment) -> Change:
        policy = await _policy(conn, settings, current.association_id)
        return review.record_ficp(current, record, policy, Actor.of(caller), now)

    return await _command(conn, application_id, decide, visible=lambda file: access.association_sees(caller, file))


async def record_outcome(
    conn: asyncpg.Connection,
    application_id: UUID,
    body: outcome.Outcome,
    *,
    caller: Principal,
    settings: AssessmentSettings,
    now: datetime,
) -> Assessment | None:
    """Record the counsellor's outcome (favourable routes the file); None if the caller's association holds no such file."""

    async def decide(current: Assessment) -> Change:
        policy = await _policy(conn, settings, current.association_id)
        return outcome.record_outcome(current, body, policy, Actor.of(caller), now)

    return await _command(conn, application_id, decide, visible=lambda file: access.association_sees(caller, file))


# --- the directory's snapshots ------------------------------------------------------------------------


async def keep_network(conn: asyncpg.Connection, data: DirectoryNetworkData) -> None:
    """The directory changed a network: its thresholds assess the next files and reviews, without a restart."""
    await repository.keep_network(conn, data)


async def keep_association(conn: asyncpg.Connection, data: DirectoryAssociationData) -> None:
    """The directory changed an association: its partner banks and its contact for banks, from now on."""
    await repository.keep_association(conn, data)


async def keep_bank(conn: asyncpg.Connection, data: DirectoryBankData) -> None:
    """The directory changed a bank: a deactivated bank can no longer be chosen when routing."""
    await repository.keep_bank(conn, data)


# --- the partner banks ----------------------------------------------------------------------------


async def record_bank_decision(
    conn: asyncpg.Connection,
    application_id: UUID,
    terms: decision.BankDecisionTerms,
    *,
    bank_id: str,
    actor: Actor,
    settings: AssessmentSettings,
    now: datetime,
    channel: str,
) -> Assessment:
    """The routed bank's decision, whichever channel carries it; the file as it is after it.

    The same decision again changes nothing and answers the file as it is; `NotRoutedToBank` (404) for a
    file not routed to that bank; a `BusinessRuleError` for another decision after the bank decided (409)
    or terms the rules refuse (422).
    """

    async def decide(current: Assessment) -> Change | None:
        return decision.record_bank_decision(current, bank_id, terms, settings.usury_table(), actor, now, channel=channel)

    decided = await _command(conn, application_id, decide)
    if decided is None:
        raise decision.NotRoutedToBank(bank_id)
    return decided


# --- the timer ------------------------------------------------------------------------------------


class OverdueRun(BaseModel):
    """What one run of the overdue timer did."""

    bank_decisions_overdue: int = Field(description="`bank decision overdue` events raised.")


async def raise_overdue_bank_decisions(ctx: ServiceContext[AssessmentSettings]) -> OverdueRun:
    """Raise `bank decision overdue` for every file routed long enough ago without a decision, at the clock's instant."""
    now, after = ctx.clock.now(), timedelta(days=ctx.settings.bank_decision_overdue_days)
    raised = 0
    while True:
        in_batch = 0
        async with ctx.pool.acquire() as conn, conn.transaction():
            waiting = await repository.awaiting_bank_since(conn, now - after, limit=OVERDUE_BATCH)
            for file in waiting:
                change = decision.raise_overdue(file, now, after, TIMER)
                if change is not None:
                    await _store(conn, change)
                    in_batch += 1
        raised += in_batch
        if len(waiting) < OVERDUE_BATCH or in_batch == 0:
            return OverdueRun(bank_decisions_overdue=raised)


async def erase_person(conn: asyncpg.Connection, application_id: UUID, *, actor: Actor, at: datetime) -> bool:
    """The person of the file was erased: their data leaves the assessment and its audit trail; the erasure is audited."""
    if not await repository.erase(conn, application_id, at):
        return False
    await repository.add_audit(
        conn, AuditEntry(application_id=application_id, at=at, actor=actor.subject, actor_role=actor.role, action="erased")
    )
    await forget_stored_responses(conn, application_id)
    return True
