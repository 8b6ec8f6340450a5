"""SQL of an erasure in servicing: the free texts about the borrower go; the loan's amounts and dates stay (the portfolio)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.privacy.erasure import ERASED_TEXT


async def erase_borrower(conn: asyncpg.Connection, application_id: UUID) -> bool:
    """Remove what servicing wrote about the borrower of the file's loan; False when it holds no loan of that file.

    Idempotent: the texts it leaves name nobody, writing them again changes nothing.
    """
    loan_id = await conn.fetchval("update loans set payee = null where application_id = $1 returning id", application_id)
    if loan_id is None:
        return False
    await conn.execute(
        "update adjustments set reason = $2, answer_reason = case when answer_reason is null then null else $2 end"
        " where loan_id = $1",
        loan_id, ERASED_TEXT,
    )
    await conn.execute(
        "update payments set reversal_reason = $2 where loan_id = $1 and reversal_reason is not null", loan_id, ERASED_TEXT
    )
    return True
