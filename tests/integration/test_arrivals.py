"""A read that waits (`Prefer: wait=N`) is answered when a consumer's batch that applied its key commits, and only
then; it survives the loss of the listening connection; nothing is left listening once no read waits."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID, uuid4

import asyncpg
import pytest

from shared.arrivals import Arrivals, channel
from shared.clock import FixedClock
from shared.consumer import BatchSettings, EventConsumer, PoolHolder
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.events import LoanApproved
from shared.failpoints import Failpoints
from shared.inbox import claim_unparked
from tests.integration.conftest import NOW
from tests.integration.test_batch_consumer import PublishedDeadLetters, approval, record

pytestmark = pytest.mark.integration

SCHEMA = "arrivals"
LISTENER = f"microcredit-{SCHEMA}-arrivals"  # the listening connection's application_name
NEVER = 30.0  # a recheck this slow never answers within a test: only a notification can


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, SCHEMA)
    await migrate(pool, SCHEMA, [PLUMBING_MIGRATIONS])
    await pool.execute("create table if not exists loans (application_id text primary key, months int)")
    try:
        yield pool
    finally:
        await pool.close()


def opening_loans(pool: asyncpg.Pool) -> EventConsumer:
    """A consumer like servicing's: each approval opens a loan, and its batches announce their keys."""

    async def handler(conn: asyncpg.Connection, event: LoanApproved) -> None:
        await conn.execute("insert into loans values ($1, $2)", event.subject, event.data.duration_months)

    holder = PoolHolder()
    holder.pool = pool
    return EventConsumer(
        PublishedDeadLetters(), holder, "arrivals-test", {LoanApproved.event_type(): handler},  # type: ignore[arg-type]
        clock=FixedClock(NOW), failpoints=Failpoints(""), batching=BatchSettings(), announce=channel(SCHEMA),
    )


def loan_of(pool: asyncpg.Pool, application_id: UUID):  # type: ignore[no-untyped-def]
    async def read() -> int | None:
        return await pool.fetchval("select months from loans where application_id = $1", str(application_id))
    return read


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Wait (at most 5 s) until `condition` holds."""
    for _ in range(500):
        met = condition()
        if await met if inspect.isawaitable(met) else met:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def listening_on_another_backend(pool: asyncpg.Pool, lost: int, arrivals: Arrivals) -> bool:
    pids = await pool.fetch("select pid from pg_stat_activity where application_name = $1", LISTENER)
    return [p["pid"] for p in pids if p["pid"] != lost] != [] and arrivals.listening


async def no_listener(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("select count(*) from pg_stat_activity where application_name = $1", LISTENER) == 0


async def test_a_waiting_read_is_answered_by_the_commit_that_applied_its_key_and_by_nothing_else(database: str, pool: asyncpg.Pool) -> None:
    arrivals = Arrivals(database, SCHEMA, recheck_seconds=NEVER, idle_seconds=0.2)
    consumer = opening_loans(pool)
    mine, other = uuid4(), uuid4()
    try:
        waiting = asyncio.create_task(arrivals.wait_for([str(mine)], loan_of(pool, mine), 20))
        await until(lambda: arrivals.listening, "listening")

        await consumer.apply_partition([record(approval(other, 12), 0, 0)])  # another file's loan
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("insert into loans values ($1, 99)", str(mine))
            # The claim that announces its keys, in a transaction that did not commit: never delivered.
            await claim_unparked(conn, "arrivals-test", [approval(mine, 99)], [str(mine)], [False], announce=channel(SCHEMA))
            await tx.rollback()
        await asyncio.sleep(0.3)
        assert not waiting.done()

        await consumer.apply_partition([record(approval(mine, 36), 1, 0)])
        assert await asyncio.wait_for(waiting, 5) == 36
    finally:
        await arrivals.close()


async def test_a_read_finds_at_once_what_is_there_and_answers_nothing_after_its_wait(database: str, pool: asyncpg.Pool) -> None:
    arrivals = Arrivals(database, SCHEMA, recheck_seconds=0.05, idle_seconds=0.2)
    there, missing = uuid4(), uuid4()
    await pool.execute("insert into loans values ($1, 24)", str(there))
    try:
        assert await arrivals.wait_for([str(there)], loan_of(pool, there), 20) == 24
        assert not arrivals.listening  # nothing waited: nothing listened
        assert await arrivals.wait_for([str(missing)], loan_of(pool, missing), 0.3) is None
    finally:
        await arrivals.close()


async def test_a_lost_listening_connection_is_opened_again_and_none_is_left_once_no_read_waits(database: str, pool: asyncpg.Pool) -> None:
    arrivals = Arrivals(database, SCHEMA, recheck_seconds=NEVER, idle_seconds=0.2)
    consumer = opening_loans(pool)
    mine = uuid4()
    try:
        waiting = asyncio.create_task(arrivals.wait_for([str(mine)], loan_of(pool, mine), 20))
        await until(lambda: arrivals.listening, "listening")
        first = await pool.fetchval("select pid from pg_stat_activity where application_name = $1", LISTENER)
        assert await pool.fetchval("select pg_terminate_backend($1)", first)
        # A listener of another backend exists only once the loss was noticed; `listening` is then the new one's.
        await until(lambda: listening_on_another_backend(pool, first, arrivals), "listening again")

        await consumer.apply_partition([record(approval(mine, 48), 0, 0)])
        assert await asyncio.wait_for(waiting, 5) == 48
        await until(lambda: no_listener(pool), "the listening connection closed once no read waits")
    finally:
        await arrivals.close()


async def test_a_batch_announces_once_each_key_it_applied_and_not_the_events_it_had_applied_before(
    database: str, pool: asyncpg.Pool
) -> None:
    heard: list[str] = []
    listener = await asyncpg.connect(database)
    await listener.add_listener(channel(SCHEMA), lambda *args: heard.append(args[-1]))
    consumer = opening_loans(pool)
    first, second = uuid4(), uuid4()
    try:
        twice = approval(first, 12)
        assert await consumer.apply_partition([record(twice, 0, 0), record(twice, 0, 1), record(approval(second, 24), 0, 2)]) == 2
        await until(lambda: len(heard) == 2, "both keys heard")
        assert sorted(heard) == sorted([str(first), str(second)])

        assert await consumer.apply_partition([record(twice, 0, 0)]) == 0  # redelivered: applied before, not announced
        await consumer.apply_partition([record(approval(uuid4(), 6), 0, 3)])
        await until(lambda: len(heard) == 3, "the third key heard")
        assert str(first) not in heard[2:]
    finally:
        await listener.close()
