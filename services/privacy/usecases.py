"""Privacy use cases: the ledger kept from the streams, the DPO's erasure and restriction, the daily retention run.

An erasure is one transaction: the subject's data key is destroyed (crypto-shredding: every sealed copy of their
personal fields, on every topic and in every backup, becomes unreadable), the erasure is recorded, and
`person erased` goes through the outbox to every service that holds rows about the file. The retention run goes
through the ledger in chunks of subjects, one transaction each, recording its progress with the chunk: a run
interrupted resumes after its last chunk, and a subject is erased once, whatever runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.privacy import repository
from services.privacy.domain import Decision, Subject, erasure_decision, retention_due
from shared.events import PersonErased, PersonErasedData, PersonRestricted, PersonRestrictedData, new_event
from shared.outbox import add_to_outbox
from shared.privacy.keyring import KeyRing
from shared.privacy.retention import RetentionRule, in_force

log = logging.getLogger(__name__)
SOURCE = "/services/privacy"


async def erase(
    conn: asyncpg.Connection, keyring: KeyRing, subject: Subject, *, kind: str, rule: str, now: datetime,
    run_date: date | None = None, requested_by: str | None = None,
) -> bool:
    """Destroy the subject's key, record the erasure and publish `person erased`, in the caller's transaction.

    False, and nothing done, when the subject was already erased.
    """
    if await repository.erasure(conn, subject.subject_id) is not None:
        return False
    destroyed = await keyring.destroy(conn, subject.subject_id, now)
    await repository.save_erasure(
        conn, subject.subject_id, at=now, kind=kind, rule=rule, run_date=run_date, requested_by=requested_by,
        key_destroyed=destroyed,
    )
    data = PersonErasedData(
        subject_id=subject.subject_id, association_id=subject.association_id, region=subject.region,
        erased_at=now, kind=kind, rule=rule,  # type: ignore[arg-type]
    )
    await add_to_outbox(conn, new_event(PersonErased, source=SOURCE, subject=str(subject.subject_id), time=now, data=data))
    return True


async def request_erasure(
    pool: asyncpg.Pool, keyring: KeyRing, subject_id: UUID, reasons: dict[str, RetentionRule], *, by: str, now: datetime,
) -> tuple[Subject | None, Decision | None]:
    """The person's request, through the DPO: (the subject, the decision); (None, None) for an unknown subject.

    A refused request changes nothing; a granted one is done at once. Asked again, it is answered the same way.
    """
    async with pool.acquire() as conn, conn.transaction():
        subject = await repository.get(conn, subject_id, lock=True)
        if subject is None:
            return None, None
        decision = erasure_decision(subject, reasons)
        if decision.allowed:
            await erase(conn, keyring, subject, kind=decision.kind, rule=decision.rule, now=now, requested_by=by)
        return subject, decision


async def restrict(pool: asyncpg.Pool, subject_id: UUID, *, restricted: bool, by: str, now: datetime) -> Subject | None:
    """Restrict the processing of the subject's data (RGPD art. 18) or lift it, and tell the services; None if unknown.

    Asked again in the same sense, nothing changes and nothing is published.
    """
    async with pool.acquire() as conn, conn.transaction():
        subject = await repository.get(conn, subject_id, lock=True)
        if subject is None:
            return None
        if await repository.set_restriction(conn, subject_id, at=now if restricted else None, by=by if restricted else None):
            data = PersonRestrictedData(
                subject_id=subject_id, association_id=subject.association_id, region=subject.region, restricted=restricted, at=now,
            )
            await add_to_outbox(conn, new_event(PersonRestricted, source=SOURCE, subject=str(subject_id), time=now, data=data))
        return await repository.get(conn, subject_id)


async def retention_run(
    pool: asyncpg.Pool, keyring: KeyRing, rules: tuple[RetentionRule, ...], *, run_date: date, now: datetime,
    chunk_size: int, after_chunk: Callable[[int], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Apply the rules in force on `run_date` to every subject not yet erased; the run's report.

    Resumes a run of the same date left unfinished after its last committed chunk; run again once finished, it
    goes through the subjects again and finds nothing more to do. A restricted subject whose period is over is
    held (counted, not erased) until the restriction is lifted.
    """
    today = in_force(rules, run_date)
    summary = {r.id: {"since": r.since.isoformat(), "keep": r.keep, "then": r.then} for r in today.values()}
    async with pool.acquire() as conn:
        lock = f"{repository.__name__}:retention"
        await conn.execute("select pg_advisory_lock(hashtext($1))", lock)
        try:
            async with conn.transaction():
                after = await repository.begin_run(conn, run_date, now, summary)
            chunks = 0
            while True:
                async with conn.transaction():
                    subjects = await repository.chunk(conn, after, chunk_size)
                    if not subjects:
                        await repository.finish_run(conn, run_date, now)
                        break
                    counts = {"erase": 0, "anonymise": 0, "held": 0}
                    for subject in subjects:
                        rule = retention_due(subject, today, run_date)
                        if rule is None:
                            continue
                        if subject.restricted_at is not None:
                            counts["held"] += 1
                        elif await erase(conn, keyring, subject, kind=rule.then, rule=rule.id, now=now, run_date=run_date):
                            counts[rule.then] += 1
                    after = subjects[-1].subject_id
                    await repository.chunk_done(
                        conn, run_date, after, reviewed=len(subjects), erased=counts["erase"],
                        anonymised=counts["anonymise"], held=counts["held"],
                    )
                chunks += 1
                if after_chunk is not None:
                    await after_chunk(chunks)
        finally:
            await conn.execute("select pg_advisory_unlock(hashtext($1))", lock)
    report = await repository.run(pool, run_date)
    assert report is not None
    log.info("retention run %s: %d erased, %d anonymised, %d held", run_date, report["erased"], report["anonymised"], report["held"])
    return report
