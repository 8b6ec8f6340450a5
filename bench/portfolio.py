"""The close-of-business benchmark's portfolio: generated once in its own database, reset before each run."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from bench.portfolio_sql import (
    HISTORY_INSERT,
    INSTALMENTS_INSERT,
    LOANS_DRAWN,
    LOANS_INSERT,
    PICK_SLOTS,
    RESET,
    SCHEMA,
    STAGING,
)
from shared.loanmath import amortisation_schedule

DATABASE = "cob_bench"
# Euros, with weights: most personal microcredits are 1,000–4,000 € (average about 2,500 €).
AMOUNTS = {300: 3, 500: 5, 800: 6, 1000: 9, 1200: 7, 1500: 11, 1800: 8, 2000: 12, 2500: 11, 3000: 11,
           3500: 5, 4000: 5, 5000: 4, 6000: 2, 7000: 1.5, 8000: 1}
RATES = ("0.015", "0.02", "0.025", "0.03", "0.035", "0.04")
DURATIONS = {6: 3, 12: 10, 18: 5, 24: 17, 36: 30, 48: 15, 60: 12, 72: 5, 84: 3}


def max_duration(amount_euros: int) -> int:
    """Small loans are short: the longest term a bank grants for an amount."""
    return 24 if amount_euros <= 1000 else 48 if amount_euros <= 2000 else 72 if amount_euros <= 4000 else 84


def templates() -> list[tuple[int, int, Decimal, int]]:
    """(template, amount cents, rate, months) for every plausible combination."""
    combos = [(a, Decimal(r), d) for a in AMOUNTS for r in RATES for d in DURATIONS if d <= max_duration(a)]
    return [(i, a * 100, r, d) for i, (a, r, d) in enumerate(combos)]


def picks(catalogue: Sequence[tuple[int, int, Decimal, int]], seed: int) -> list[tuple[int, int]]:
    """A weighted table of templates: a loan draws one slot uniformly."""
    rng = random.Random(seed)
    weights = [AMOUNTS[a // 100] * DURATIONS[d] for _, a, _, d in catalogue]
    return list(enumerate(rng.choices([t for t, *_ in catalogue], weights=weights, k=PICK_SLOTS)))


async def database_dsn(server_dsn: str, fresh: bool) -> str:
    """The benchmark's own database on the server (dropped and created again when `fresh`)."""
    admin = await asyncpg.connect(server_dsn)
    try:
        exists = await admin.fetchval("select true from pg_database where datname = $1", DATABASE)
        if fresh and exists:
            await admin.execute(f"drop database {DATABASE} with (force)")
        if fresh or not exists:
            await admin.execute(f"create database {DATABASE}")
    finally:
        await admin.close()
    base, _, _ = server_dsn.rpartition("/")
    return f"{base}/{DATABASE}"


async def kept_portfolio(dsn: str, loans: int) -> asyncpg.Record | None:
    """The generated portfolio's description, if the database holds one of `loans` loans."""
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("select to_regclass('bench.meta') is not null"):
            return None
        meta = await conn.fetchrow("select loans, business_date, seed from bench.meta")
        return meta if meta is not None and meta["loans"] == loans else None
    finally:
        await conn.close()


async def generate(pool: asyncpg.Pool, loans: int, business_date: date, seed: int) -> dict[str, Any]:
    """Fill the servicing tables with `loans` active loans as of `business_date`; return what was made."""
    catalogue = templates()
    async with pool.acquire() as conn:
        await conn.execute(STAGING)
        await conn.copy_records_to_table("templates", schema_name="bench", records=catalogue)
        lines = [
            (t, s.number, s.principal_cents, s.interest_cents, s.instalment_cents, s.remaining_principal_cents)
            for t, amount, rate, months in catalogue
            for s in amortisation_schedule(amount, rate, months, date(2026, 1, 5))
        ]
        await conn.copy_records_to_table("template_lines", schema_name="bench", records=lines)
        await conn.copy_records_to_table("picks", schema_name="bench", records=picks(catalogue, seed))
        await conn.execute("analyze bench.templates, bench.template_lines, bench.picks")
        await conn.execute("select setseed($1)", (seed % 1000) / 1000)
        await conn.execute(LOANS_DRAWN.format(loans=int(loans), business_date=f"date '{business_date.isoformat()}'"))
        await conn.execute("create index on bench.loans (seq); analyze bench.loans")
        # Secondary indexes are built once at the end (faster than maintained row by row); the primary
        # keys stay, fed in key order. Foreign keys are not re-checked for generated rows.
        indexes = await conn.fetch(
            "select indexname, indexdef from pg_indexes i where schemaname = $1 and tablename in ('loans', 'instalments', 'missed_instalments')"
            " and not exists (select 1 from pg_constraint c where c.conname = i.indexname)",
            SCHEMA,
        )
        for index in indexes:
            await conn.execute(f"drop index {SCHEMA}.{index['indexname']}")
    started = time.monotonic()
    halves = [(1, loans // 2), (loans // 2 + 1, loans)]

    async def load(sql: str, *args: Any) -> None:
        async with pool.acquire() as conn:
            try:
                await conn.execute("set session_replication_role = replica")
            except asyncpg.InsufficientPrivilegeError:
                pass  # not a superuser: foreign keys are checked row by row, slower but the same rows
            await conn.execute("set work_mem = '256MB'")
            await conn.execute(sql, *args)

    await load(LOANS_INSERT)
    await asyncio.gather(*(load(INSTALMENTS_INSERT, lo, hi) for lo, hi in halves), load(HISTORY_INSERT))
    loaded = time.monotonic() - started

    async def build(definition: str) -> None:
        async with pool.acquire() as conn:
            await conn.execute("set maintenance_work_mem = '1GB'")
            await conn.execute(definition)

    await asyncio.gather(*(build(i["indexdef"]) for i in indexes))
    async with pool.acquire() as conn:
        # As a production table would be: statistics, hint bits and the visibility map up to date.
        await conn.execute(f"vacuum analyze {SCHEMA}.loans, {SCHEMA}.instalments, {SCHEMA}.missed_instalments")
        await conn.execute("insert into bench.meta values ($1, $2, $3, now())", loans, business_date, seed)
        stats = await conn.fetchrow(
            f"""select (select count(*) from {SCHEMA}.instalments) as instalments,
                       (select count(*) from {SCHEMA}.missed_instalments) as settled_misses,
                       (select count(*) from bench.loans where k_unpaid > 0) as in_arrears,
                       (select count(*) from bench.loans where k_unpaid > 0 or h1 is not null) as ever_missed,
                       (select avg(t.amount_cents) / 100 from bench.loans b join bench.templates t using (template)) as average_euros,
                       pg_size_pretty(pg_database_size(current_database())) as size"""
        )
    return {**dict(stats), "templates": len(catalogue), "template_lines": len(lines), "load_seconds": loaded}


async def reset(pool: asyncpg.Pool) -> None:
    """Bring a kept portfolio back to its state before any close of business."""
    async with pool.acquire() as conn:
        await conn.execute(RESET)
        await conn.execute(f"vacuum analyze {SCHEMA}.loans, {SCHEMA}.instalments, {SCHEMA}.missed_instalments, {SCHEMA}.outbox")


async def checkpoint(pool: asyncpg.Pool) -> None:
    """Flush what the generation left dirty, so the run does not pay for it (needs the right to)."""
    try:
        await pool.execute("checkpoint")
    except asyncpg.PostgresError as exc:
        print(f"  (no checkpoint before the run: {exc})", file=sys.stderr)
