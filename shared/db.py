"""asyncpg pool per service schema, and a small forward-only SQL migration runner."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import asyncpg

from shared.fair_pool import open_fair_pool

log = logging.getLogger(__name__)

PLUMBING_MIGRATIONS = Path(__file__).parent / "sql"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _check_schema(schema: str) -> str:
    if not _IDENT.match(schema):
        raise ValueError(f"schema name {schema!r} must be a lowercase SQL identifier")
    return schema


async def create_pool(
    dsn: str, schema: str, *, max_size: int = 10, on_wait: Callable[[float], None] | None = None
) -> asyncpg.Pool:
    """Open a pool whose connections work inside `schema` (created if missing), handed out first come, first served."""
    _check_schema(schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"create schema if not exists {schema}")
    finally:
        await conn.close()
    return await open_fair_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": f"microcredit-{schema}"},
        reset=_keep_session,
        on_wait=on_wait,
    )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """No reset query when a connection goes back to the pool (asyncpg's default costs a round trip per release).

    asyncpg still rolls back a transaction left open and drops listener callbacks first. The platform's code
    changes no session setting, and releases its session advisory locks and LISTENs itself (in `finally`).
    """


async def migrate(pool: asyncpg.Pool, schema: str, directories: Sequence[Path]) -> list[str]:
    """Apply the `*.sql` files of `directories` not yet applied, in order; return what was applied.

    A transaction-scoped advisory lock serialises replicas of one service starting together.
    """
    _check_schema(schema)
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(
            "create table if not exists schema_migrations ("
            " version text primary key, applied_at timestamptz not null default now())"
        )
        done = {r["version"] for r in await conn.fetch("select version from schema_migrations")}
        for directory in directories:
            for path in sorted(directory.glob("*.sql")):
                version = f"{directory.parent.name}/{path.name}"
                if version in done:
                    continue
                await conn.execute(path.read_text())
                await conn.execute("insert into schema_migrations (version) values ($1)", version)
                applied.append(version)
                log.info("applied migration %s to schema %s", version, schema)
    return applied


async def keep_newest(conn: asyncpg.Connection, table: str, key: str, row: Mapping[str, object]) -> None:
    """Upsert `row` (which has a `version`) into `table`, keyed by `key`, unless the table keeps that version or a newer one.

    How a service keeps its copy of another's snapshots: a late or repeated snapshot changes nothing.
    `table` and the column names come from the code, never from input.
    """
    columns = list(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    await conn.execute(
        f"insert into {table} ({', '.join(columns)}) values ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})"
        f" on conflict ({key}) do update set {updates} where {table}.version < excluded.version",
        *row.values(),
    )


def with_equalities(where: str, args: Sequence[object], **equal: object) -> tuple[str, list[object]]:
    """`where` and its `args` with `and column = $n` for each column of `equal` whose value is given (not None).

    A list query that names only the filters it was given lets the planner read a page of the index that matches
    them, in order; a generic `($n is null or column = $n)` would have it read and sort every row of the owner.
    The column names come from the code, never from input.
    """
    args = list(args)
    for column, value in equal.items():
        if value is not None:
            args.append(value)
            where += f" and {column} = ${len(args)}"
    return where, args


def limit_offset(args: Sequence[object]) -> str:
    """` limit $n offset $n+1`, the two parameters after `args` (a page of a list query built by `with_equalities`)."""
    return f" limit ${len(args) + 1} offset ${len(args) + 2}"
