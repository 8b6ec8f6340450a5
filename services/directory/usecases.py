"""Directory use cases: an admin's change of an entity, and the files waiting for a bank learnt from the applications stream.

A change runs in the caller's transaction: the entity is locked, the facts its rules need are looked
up, the domain decides, and the new state, its audit entry and its snapshot event (outbox) are written
together. The same `PUT` twice changes nothing the second time: no new version, no audit, no event.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.directory import repository
from services.directory.domain import changes
from services.directory.domain.changes import Stored
from services.directory.domain.entities import ASSOCIATION, BANK, NETWORK, AssociationFields, ContactFields, Fields, Kind
from shared.auth import Actor
from shared.outbox import add_to_outbox


async def put(
    conn: asyncpg.Connection, kind: Kind, entity_id: str, fields: Fields, *, actor: Actor, now: datetime
) -> tuple[Stored, bool]:
    """Create or change an entity: (the entity as it is now, True if it was created)."""
    await repository.lock(conn, kind, entity_id)
    current = await repository.get(conn, kind, entity_id)
    await _check_references(conn, fields)
    if changes.deactivates(current, fields):
        changes.refuse_deactivation(kind, entity_id, await _in_use(conn, kind, entity_id))
    change = changes.put(kind, entity_id, fields, current, actor, now)
    if change is None:
        assert current is not None
        return current, False
    await repository.save(conn, change)
    await add_to_outbox(conn, change.event)
    return change.stored, change.created


async def _check_references(conn: asyncpg.Connection, fields: Fields) -> None:
    if isinstance(fields, AssociationFields):
        network = await repository.get(conn, NETWORK, fields.network_id)
        banks = await repository.existing(conn, BANK, list(fields.partner_banks))
        changes.check_association(fields, network, banks)
    elif isinstance(fields, ContactFields):
        association = await repository.get(conn, ASSOCIATION, fields.association_id) if fields.association_id else None
        bank = await repository.get(conn, BANK, fields.bank_id) if fields.bank_id else None
        changes.check_contact(fields, association, bank)


async def _in_use(conn: asyncpg.Connection, kind: Kind, entity_id: str) -> int:
    """What keeps an entity in use: a bank's files waiting for its decision, a network's active associations."""
    if kind is BANK:
        return await repository.files_waiting(conn, entity_id)
    if kind is NETWORK:
        return await repository.count_active(conn, ASSOCIATION, {"network_id": entity_id})
    return 0


# --- the applications stream: which files wait for which bank -------------------------------------


async def file_routed(conn: asyncpg.Connection, application_id: UUID, bank_id: str) -> None:
    """Assessment routed a file: it waits for the bank's decision."""
    await repository.file_routed(conn, application_id, bank_id)


async def file_decided(conn: asyncpg.Connection, application_id: UUID, bank_id: str) -> None:
    """The bank approved or declined the file."""
    await repository.file_decided(conn, application_id, bank_id)


async def file_withdrawn(conn: asyncpg.Connection, application_id: UUID) -> None:
    """The applicant withdrew the file."""
    await repository.file_withdrawn(conn, application_id)
