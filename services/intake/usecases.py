"""Intake's use cases, one per command: the domain decides, the change is stored whole.

A change is written at once, in one SQL statement: the file, its events (outbox), its audit line and its
funnel milestone. A command on an existing file reads it first, without a lock, and writes only if it
has not changed meanwhile (else reads and decides again): two round trips, where a locked read inside a
transaction took eight. The HTTP API calls the counsellors' commands; the Kafka handlers call
`record_progress`, in their consumer's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from uuid import UUID

import asyncpg

from services.intake import domain, repository
from shared.auth import Actor
from shared.errors import BusinessRuleError
from shared.privacy.erasure import forget_stored_responses
from shared.versioned import CHANGED, Changed, retry_while_changed


async def _change(
    conn: asyncpg.Connection,
    application_id: UUID,
    association_id: str,
    decide: Callable[[domain.Application], domain.Change | None],
) -> domain.Application | None:
    """Apply a decision to one of the association's files and store it; None if the file is not theirs or unknown.

    In one statement, checked against the version read (`shared.versioned`): a change that lands meanwhile (another
    person's edit, an event of assessment) wins the race, and the decision is taken again on the file as it is then.
    """

    async def attempt() -> domain.Application | None | Changed:
        found = await repository.get_versioned(conn, application_id, association_id=association_id)
        if found is None:
            return None
        if found.erased_at is not None:
            raise BusinessRuleError(
                "le dossier a été effacé à la demande de la personne ou au terme de sa durée de conservation : "
                "il ne peut plus être modifié",
                field="application_id", rule="erased", status=409,
            )
        if found.restricted_at is not None:
            raise BusinessRuleError(
                "la personne a demandé la limitation du traitement de ses données (RGPD, art. 18) : le dossier est "
                "conservé tel quel et ne peut pas être modifié tant que le délégué à la protection des données ne l'a pas levée",
                field="application_id", rule="restricted", status=409,
            )
        change = decide(found.application)
        if change is None:
            return found.application
        return change.application if await repository.store(conn, change, version=found.version) else CHANGED

    return await retry_while_changed(attempt, what="the file", field="application_id")


async def log_contact(
    conn: asyncpg.Connection,
    contact: domain.NewFirstContact,
    *,
    contact_id: UUID,
    association_id: str,
    region: str,
    actor: Actor,
    now: datetime,
) -> domain.FirstContact:
    """Log a first contact in the actor's association and region (no event: it only feeds the funnel)."""
    logged = domain.log_contact(
        contact, contact_id=contact_id, association_id=association_id, region=region, actor=actor, now=now
    )
    await repository.add_contact(conn, logged)
    return logged


async def open_file(
    conn: asyncpg.Connection,
    content: domain.FileContent,
    *,
    application_id: UUID,
    association_id: str,
    region: str,
    actor: Actor,
    now: datetime,
) -> domain.Application:
    """A new draft in the actor's association and region."""
    change = domain.open_file(
        content, application_id=application_id, association_id=association_id, region=region, actor=actor, now=now
    )
    await repository.store(conn, change)
    return change.application


async def edit_file(
    conn: asyncpg.Connection,
    application_id: UUID,
    changes: domain.FileChanges,
    *,
    association_id: str,
    actor: Actor,
    now: datetime,
) -> domain.Application | None:
    """Apply the changes to one of the association's files; None if there is no such file for it."""
    return await _change(conn, application_id, association_id, lambda a: domain.edit_file(a, changes, actor, now))


async def submit_file(
    conn: asyncpg.Connection,
    application_id: UUID,
    submission: domain.Submission,
    *,
    association_id: str,
    actor: Actor,
    now: datetime,
) -> domain.Application | None:
    """Submit one of the association's drafts; None if there is no such file for it."""
    return await _change(conn, application_id, association_id, lambda a: domain.submit_file(a, submission, actor, now))


async def withdraw_file(
    conn: asyncpg.Connection,
    application_id: UUID,
    withdrawal: domain.Withdrawal,
    *,
    association_id: str,
    actor: Actor,
    now: datetime,
) -> domain.Application | None:
    """Record the applicant's withdrawal of one of the association's files; None if there is no such file for it."""
    return await _change(conn, application_id, association_id, lambda a: domain.withdraw_file(a, withdrawal, actor, now))


async def record_progress(conn: asyncpg.Connection, progress: domain.Progress) -> None:
    """Date the milestone an event of assessment reports (even for a file intake does not hold) and move the file on.

    The file is read locked; when it moves, its new state, its audit line and the milestone are one statement
    (`repository.store`), two round trips in all.
    """
    found = await repository.get_versioned(conn, progress.application_id, association_id=None, for_update=True)
    change = domain.record_progress(found.application, progress) if found is not None else None
    if found is None or change is None:
        await repository.add_milestone(
            conn, progress.application_id, progress.milestone, progress.at,
            association_id=progress.association_id, region=progress.region,
        )
        return
    if not await repository.store(conn, replace(change, milestone=progress.milestone), version=found.version):
        raise RuntimeError(f"file {progress.application_id} changed while locked")  # cannot happen: the row is locked


async def erase_person(conn: asyncpg.Connection, application_id: UUID, *, actor: Actor, at: datetime) -> bool:
    """The person of the file was erased: their data leaves the file and its audit trail, the erasure is audited."""
    if not await repository.erase(conn, application_id, at):
        return False
    await repository.add_audit(conn, application_id, domain.AuditEntry(at=at, actor=actor, action="erased", details={}))
    await forget_stored_responses(conn, application_id)
    return True


async def restrict_file(conn: asyncpg.Connection, application_id: UUID, since: datetime | None) -> None:
    """The DPO restricted the file's processing (`since`), or lifted the restriction (None): changes are refused meanwhile."""
    await repository.restrict(conn, application_id, since)
