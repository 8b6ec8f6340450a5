"""An erasure in notifications: no alert, e-mail or digest keeps the person's name; the alerts' counts stay."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.privacy.erasure import ERASED_NAME, ERASED_TEXT, forget_stored_responses


async def erase_person(conn: asyncpg.Connection, application_id: UUID) -> bool:
    """Take the person's name out of the file's alerts and of every e-mail that names them; False when nothing was known.

    The name comes from `files` (what `application submitted` told); e-mails about the file's alerts and any other
    e-mail naming the person (a digest) have it replaced; counsellors' notes on the alerts go. Idempotent: once the
    name is forgotten there is nothing left to replace.
    """
    name = await conn.fetchval("select applicant_name from files where application_id = $1 for update", application_id)
    alerts = await conn.fetch("select id from alerts where application_id = $1", application_id)
    if name is None and not alerts:
        return False
    if name:
        await conn.execute(
            "update email_deliveries set subject = replace(subject, $1, $2), body = replace(body, $1, $2)"
            " where strpos(subject, $1) > 0 or strpos(body, $1) > 0",
            name, ERASED_NAME,
        )
        await conn.execute(
            "update alerts set message = replace(message, $2, $3) where strpos(message, $2) > 0 and application_id = $1",
            application_id, name, ERASED_NAME,
        )
    await conn.execute(
        "update alerts set resolution_note = $2 where application_id = $1 and resolution_note is not null",
        application_id, ERASED_TEXT,
    )
    await conn.execute("update files set applicant_name = null where application_id = $1", application_id)
    await forget_stored_responses(conn, application_id)
    return True
