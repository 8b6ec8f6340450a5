"""What every service does with its plumbing when a person is erased, and the words an erased field is left with."""

from __future__ import annotations

from uuid import UUID

import asyncpg

# What stays where a personal text was (a column that may not be empty): it names nobody.
ERASED_TEXT = "Effacé (RGPD)"
ERASED_FIRST_NAME, ERASED_LAST_NAME = "Personne", "effacée"
ERASED_NAME = f"{ERASED_FIRST_NAME} {ERASED_LAST_NAME}"


async def forget_stored_responses(conn: asyncpg.Connection, subject_id: UUID) -> int:
    """Delete the stored answers to retried requests (`idempotency_keys`) about the subject; how many.

    They hold the response a client gets again, which may show the file; they expire anyway, this is sooner.
    """
    result = await conn.execute(
        # bytea search: a stored body need not be text (the id is looked for as its UTF-8 bytes).
        "delete from idempotency_keys where strpos(path, $1) > 0 or position(convert_to($1, 'UTF8') in body) > 0",
        str(subject_id),
    )
    return int(result.split()[-1])
