"""An erasure in notifications: no alert, e-mail or digest keeps anything of the person; the alerts' counts stay.

An alert's message may quote what the file said (the supplier paid, for one): the alerts of an erased file keep
their kind, severity, audience, dates and statuses, and a message that says only that the person was erased. The
e-mails about them, and the digests that quoted them, get that message instead of the old one, and the person's
name (known from `application submitted`) leaves every e-mail that carried it.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.privacy.erasure import ERASED_NAME, ERASED_TEXT, forget_stored_responses

ERASED_ALERT = "Alerte d'un dossier dont la personne a été effacée (RGPD) : son contenu n'est plus conservé."


async def erase_person(conn: asyncpg.Connection, application_id: UUID) -> bool:
    """Take the person out of the file's alerts and of every e-mail about them; False when nothing was known.

    Idempotent: once the messages are neutral and the name forgotten, there is nothing left to replace.
    """
    name = await conn.fetchval("select applicant_name from files where application_id = $1 for update", application_id)
    alerts = await conn.fetch(
        "select id, message from alerts where (application_id = $1"
        " or loan_id in (select loan_id from loan_followups where application_id = $1)) and message <> $2 for update",
        application_id, ERASED_ALERT,
    )
    if name is None and not alerts:
        return False
    for alert in alerts:
        await conn.execute(
            "update email_deliveries set body = replace(body, $1, $2) where alert_id = $3 or strpos(body, $1) > 0",
            alert["message"], ERASED_ALERT, alert["id"],
        )
    ids = [a["id"] for a in alerts]
    await conn.execute(
        "update alerts set message = $2, resolution_note = case when resolution_note is null then null else $3 end"
        " where id = any($1::uuid[])",
        ids, ERASED_ALERT, ERASED_TEXT,
    )
    if name:
        await conn.execute(
            "update email_deliveries set subject = replace(subject, $1, $2), body = replace(body, $1, $2)"
            " where strpos(subject, $1) > 0 or strpos(body, $1) > 0",
            name, ERASED_NAME,
        )
    await conn.execute("update files set applicant_name = null where application_id = $1", application_id)
    await forget_stored_responses(conn, application_id)
    return True
