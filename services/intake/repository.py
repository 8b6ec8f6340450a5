"""SQL for intake's own tables."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.intake.domain import Application

_COLUMNS = (
    "id, association_id, region, counsellor_id, applicant_name, purpose, amount_cents, duration_months,"
    " monthly_resources_cents, monthly_charges_cents, status, submitted_at"
)


async def insert(conn: asyncpg.Connection, app: Application) -> None:
    """Store a new application."""
    await conn.execute(
        f"insert into applications ({_COLUMNS}) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
        app.id, app.association_id, app.region, app.counsellor_id, app.applicant_name, app.purpose.value,
        app.amount_cents, app.duration_months, app.monthly_resources_cents, app.monthly_charges_cents,
        app.status, app.submitted_at,
    )


async def get(conn: asyncpg.Connection | asyncpg.Pool, application_id: UUID) -> Application | None:
    """One application, or None."""
    row = await conn.fetchrow(f"select {_COLUMNS} from applications where id = $1", application_id)
    return Application(**dict(row)) if row else None
