"""SQL of the e-mail group: the counsellors' preferences, the e-mail outbox (deliveries) and the digests' waiting alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from services.notifications.email.domain import AddressBook, Addressee, DeliveryKind, EmailMode, EmailPreference
from shared.db import keep_newest
from shared.events import DirectoryAssociationData, DirectoryContactData
from services.notifications.email.letters import Letter

Connection = asyncpg.Connection | asyncpg.Pool


async def preference(conn: Connection, counsellor_id: str) -> EmailPreference | None:
    """The counsellor's recorded choice, or None."""
    row = await conn.fetchrow(
        "select counsellor_id, mode, digest_hour, updated_at from email_preferences where counsellor_id = $1", counsellor_id
    )
    return EmailPreference(**dict(row)) if row else None


@dataclass(frozen=True)
class AlertMailing:
    """What an alert's e-mail depends on, read in one round trip (`alert_mailing`)."""

    own_address: str | None  # the counsellor's, if the directory has them and they are active
    mode: EmailMode | None  # the counsellor's recorded choice (`EmailPreference.mode`), None if they chose nothing
    borrower: str | None  # the file's applicant, as notifications remembers them (never for an erased person)


async def alert_mailing(conn: Connection, counsellor_id: str, application_id: UUID | None) -> AlertMailing:
    """`own_address`, the counsellor's choice and the file's applicant (the alerts' `files`), in one statement."""
    row = await conn.fetchrow(
        "select (select email from directory_contacts where username = $1 and active) as own_address,"
        " (select mode from email_preferences where counsellor_id = $1) as mode,"
        " (select applicant_name from files where application_id = $2) as borrower",
        counsellor_id, application_id,
    )
    assert row is not None  # one row whatever the tables hold
    return AlertMailing(row["own_address"], row["mode"], row["borrower"])


async def save_preference(conn: Connection, pref: EmailPreference) -> None:
    """Record the counsellor's choice."""
    await conn.execute(
        "insert into email_preferences (counsellor_id, mode, digest_hour, updated_at) values ($1, $2, $3, $4)"
        " on conflict (counsellor_id) do update set mode = excluded.mode, digest_hour = excluded.digest_hour, updated_at = excluded.updated_at",
        pref.counsellor_id, pref.mode, pref.digest_hour, pref.updated_at,
    )


async def insert_delivery(
    conn: asyncpg.Connection, *, delivery_id: UUID, kind: DeliveryKind, addressee: Addressee, letter: Letter,
    now: datetime, alert_id: UUID | None = None,
) -> bool:
    """Queue an e-mail for `addressee` in the caller's transaction; False if this delivery was already queued."""
    return bool(await conn.fetchval(
        "insert into email_deliveries (id, kind, alert_id, association_id, addressee_kind, addressee_id, subject, body, status,"
        " next_attempt_at, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9) on conflict (id) do nothing"
        " returning true",
        delivery_id, kind, alert_id, addressee.association_id, addressee.kind, addressee.id, letter.subject, letter.body, now,
    ))


async def delivery_exists(conn: asyncpg.Connection, delivery_id: UUID) -> bool:
    """Whether this e-mail was queued already."""
    return bool(await conn.fetchval("select true from email_deliveries where id = $1", delivery_id))


async def add_to_digest(conn: asyncpg.Connection, counsellor_id: str, alert_id: UUID, now: datetime) -> None:
    """An alert waits for its counsellor's next digest."""
    await conn.execute(
        "insert into digest_items (counsellor_id, alert_id, added_at) values ($1, $2, $3) on conflict do nothing",
        counsellor_id, alert_id, now,
    )


async def digests_waiting(conn: Connection, default_hour: int) -> list[tuple[str, int]]:
    """Each counsellor with alerts waiting for a digest, and the local hour of their digest."""
    rows = await conn.fetch(
        "select distinct d.counsellor_id, coalesce(p.digest_hour, $1) as digest_hour"
        " from digest_items d left join email_preferences p using (counsellor_id)",
        default_hour,
    )
    return [(r["counsellor_id"], r["digest_hour"]) for r in rows]


async def digest_items(conn: asyncpg.Connection, counsellor_id: str) -> list[UUID]:
    """The alerts waiting for a counsellor's digest, locked."""
    rows = await conn.fetch("select alert_id from digest_items where counsellor_id = $1 for update skip locked", counsellor_id)
    return [r["alert_id"] for r in rows]


async def remove_digest_items(conn: asyncpg.Connection, counsellor_id: str, alert_ids: list[UUID]) -> None:
    """These alerts went out in a digest."""
    await conn.execute("delete from digest_items where counsellor_id = $1 and alert_id = any($2::uuid[])", counsellor_id, alert_ids)


async def next_due(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """The next e-mail due, locked for the caller's transaction (replicas skip each other's)."""
    return await conn.fetchrow(
        "select * from email_deliveries where status = 'pending' and next_attempt_at <= $1"
        " order by next_attempt_at, created_at limit 1 for update skip locked",
        now,
    )


async def pending(conn: Connection) -> int:
    """E-mails waiting to be sent (the `pending` partial index)."""
    return int(await conn.fetchval("select count(*) from email_deliveries where status = 'pending'"))


async def mark_sent(conn: asyncpg.Connection, delivery_id: UUID, attempts: int, now: datetime, recipients: list[str]) -> None:
    """The relay accepted the e-mail, for these addresses."""
    await conn.execute(
        "update email_deliveries set status = 'sent', attempts = $2, sent_at = $3, last_error = null, recipients = $4 where id = $1",
        delivery_id, attempts, now, recipients,
    )


async def retry_later(conn: asyncpg.Connection, delivery_id: UUID, attempts: int, error: str, at: datetime) -> None:
    """A temporary failure: try again at `at`."""
    await conn.execute(
        "update email_deliveries set attempts = $2, last_error = $3, next_attempt_at = $4 where id = $1", delivery_id, attempts, error, at
    )


async def mark_failed(conn: asyncpg.Connection, delivery_id: UUID, attempts: int, error: str) -> None:
    """The e-mail is given up."""
    await conn.execute(
        "update email_deliveries set status = 'failed', attempts = $2, last_error = $3 where id = $1", delivery_id, attempts, error
    )


# --- the copy of the directory: the newest version of each entity wins --------------------------------


async def keep_contact(conn: asyncpg.Connection, c: DirectoryContactData) -> None:
    """A person's (or a bank's technical) contact, unless a newer version is kept already."""
    await keep_newest(conn, "directory_contacts", "username", c.model_dump(
        include={"username", "email", "role", "association_id", "bank_id", "active", "version"}))


async def keep_association(conn: asyncpg.Connection, a: DirectoryAssociationData) -> None:
    """An association's shared mailbox, unless a newer version is kept already."""
    await keep_newest(conn, "directory_associations", "association_id", a.model_dump(
        include={"association_id", "shared_mailbox", "active", "version"}))


async def address_book(conn: Connection, addressee: Addressee) -> AddressBook:
    """What the directory's copy says now of the addresses `addressee` may be reached at, in one statement."""
    association = addressee.association_id
    row = await conn.fetchrow(
        "select (select email from directory_contacts where $1 and username = $2 and active) as own,"
        " (select shared_mailbox from directory_associations where association_id = $3 and active) as shared,"
        " array(select email from directory_contacts where association_id = $3 and role = 'supervisor' and active"
        "  order by username) as supervisors,"
        " array(select email from directory_contacts where $4 and bank_id = $2 and role = 'bank_technical' and active"
        "  order by username) as technical",
        addressee.kind == "counsellor", addressee.id, association, addressee.kind == "bank",
    )
    assert row is not None  # one row whatever the tables hold
    return AddressBook(row["own"], row["shared"], tuple(row["supervisors"]), tuple(row["technical"]))
