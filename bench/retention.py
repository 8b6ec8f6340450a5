"""The privacy service's daily retention job on real Postgres: `python -m bench.retention [--subjects 20000]`.

Fills the ledger with `--subjects` files withdrawn on 2 December 2026 (each with its data key in the keyring,
as a file whose events were sealed has), then runs the retention job of 3 July 2027 with the service's own code
(`usecases.retention_run`, chunks of `--chunk` subjects): every one is due under `file-not-a-loan`, so each gets
its key destroyed, its erasure recorded and its `person erased` written to the outbox. Prints the run's seconds
and subjects per second, a second run of the same day (nothing left to do), beside the ceiling measured in the same
run: the same rows written set-based, four statements per chunk, no per-subject round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

from deploy.local import REPO_ROOT
from deploy.local.postgres import LocalPostgres
from services.privacy import usecases
from services.privacy.app import DEFINITION as PRIVACY
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.events import PersonErased
from shared.privacy.keyring import KEYRING_MIGRATIONS, KeyRing, new_kek
from shared.privacy.retention import load_rules

DATABASE = "retention_bench"
WITHDRAWN_AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
RUN_DATE = date(2027, 7, 3)
NOW = datetime(2027, 7, 3, 2, 0, tzinfo=UTC)


async def fresh_database(server_dsn: str) -> str:
    """The benchmark's own database, dropped and created again."""
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"drop database if exists {DATABASE} with (force)")
        await admin.execute(f"create database {DATABASE}")
    finally:
        await admin.close()
    return f"{server_dsn.rpartition('/')[0]}/{DATABASE}"


async def fill(pool: asyncpg.Pool, ring: KeyRing, subjects: list[uuid.UUID]) -> None:
    """The ledger's withdrawn files and their data keys, by COPY; the outbox, erasures and runs emptied."""
    async with pool.acquire() as conn:
        await conn.execute("truncate erasures, retention_runs, outbox; truncate subjects cascade; truncate keyring.data_keys")
        await conn.copy_records_to_table("subjects", records=[
            (s, "secours-catholique", "hauts-de-france", "withdrawn", WITHDRAWN_AT) for s in subjects
        ], columns=["subject_id", "association_id", "region", "status", "last_activity_at"])
        keys = [(s, ring._wrap(s, os.urandom(32)), WITHDRAWN_AT) for s in subjects]  # noqa: SLF001  (as key_for wraps)
        await conn.copy_records_to_table("data_keys", schema_name="keyring", records=keys, columns=["subject_id", "wrapped", "created_at"])
        await conn.execute("analyze subjects; analyze keyring.data_keys")


async def ceiling_seconds(pool: asyncpg.Pool, subjects: list[uuid.UUID], chunk: int) -> float:
    """The same writes set-based, one transaction of four statements per chunk: keys, erasures, ledger, outbox."""
    payload = b"x" * 420  # about a `person erased` event
    started = time.monotonic()
    async with pool.acquire() as conn:
        for i in range(0, len(subjects), chunk):
            ids = subjects[i : i + chunk]
            async with conn.transaction():
                await conn.execute(
                    "update keyring.data_keys set wrapped = null, destroyed_at = $2 where subject_id = any($1::uuid[])", ids, NOW
                )
                await conn.execute(
                    "insert into erasures (subject_id, erased_at, kind, rule, run_date, key_destroyed)"
                    " select s, $2, 'erase', 'file-not-a-loan', $3, true from unnest($1::uuid[]) s", ids, NOW, RUN_DATE,
                )
                await conn.execute("update subjects set erased_at = $2 where subject_id = any($1::uuid[])", ids, NOW)
                await conn.execute(
                    "insert into outbox (event_id, event_type, topic, key, payload)"
                    " select gen_random_uuid(), $2, $3, s::text, $4 from unnest($1::uuid[]) s",
                    ids, PersonErased.event_type(), PersonErased.topic, payload,
                )
    return time.monotonic() - started


async def main(subjects_count: int, chunk: int, state_dir: Path) -> dict[str, float]:
    """Run the job and its ceiling; the figures. A Postgres this run started is stopped at the end."""
    postgres = LocalPostgres(state_dir)
    started_here = not postgres.status().running
    try:
        return await _measure(await fresh_database(postgres.start()), subjects_count, chunk)
    finally:
        if started_here:
            postgres.stop()


async def _measure(dsn: str, subjects_count: int, chunk: int) -> dict[str, float]:
    pool = await create_pool(dsn, "privacy", max_size=2)
    try:
        await migrate(pool, "privacy", [PLUMBING_MIGRATIONS, KEYRING_MIGRATIONS, PRIVACY.migrations])
        ring, rules = KeyRing(new_kek()), load_rules()
        subjects = sorted(uuid.uuid4() for _ in range(subjects_count))
        await fill(pool, ring, subjects)
        started = time.monotonic()
        report = await usecases.retention_run(pool, ring, rules, run_date=RUN_DATE, now=NOW, chunk_size=chunk)
        job = time.monotonic() - started
        assert report["erased"] == subjects_count, report
        started = time.monotonic()
        again = await usecases.retention_run(pool, ring, rules, run_date=RUN_DATE, now=NOW, chunk_size=chunk)
        second = time.monotonic() - started
        assert again["erased"] == subjects_count  # the same run: nothing erased twice
        assert await pool.fetchval("select count(*) from outbox") == subjects_count
        await fill(pool, ring, subjects)
        ceiling = await ceiling_seconds(pool, subjects, chunk)
    finally:
        await pool.close()
    return {
        "subjects": subjects_count, "chunk": chunk, "job_seconds": round(job, 2), "job_per_second": round(subjects_count / job),
        "second_run_seconds": round(second, 2), "ceiling_seconds": round(ceiling, 2),
        "ceiling_per_second": round(subjects_count / ceiling), "load_average": os.getloadavg()[0],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local" / "bench")
    args = parser.parse_args()
    figures = asyncio.run(main(args.subjects, args.chunk, args.state_dir))
    print(
        f"retention job: {figures['subjects']:,} subjects erased in {figures['job_seconds']} s "
        f"({figures['job_per_second']:,}/s, chunks of {figures['chunk']}); the same day again: {figures['second_run_seconds']} s\n"
        f"ceiling (set-based, same rows, same chunks): {figures['ceiling_seconds']} s ({figures['ceiling_per_second']:,}/s)\n"
        f"load average: {figures['load_average']:.2f}"
    )
    print(json.dumps(figures))
