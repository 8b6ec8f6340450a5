"""The services' connection pools hand connections out first come, first served, and never lose one."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.db import create_pool
from shared.fair_pool import FairPool, open_fair_pool

pytestmark = pytest.mark.integration


async def test_a_caller_waiting_for_a_connection_gets_it_before_one_who_comes_after_the_release(database: str) -> None:
    order: list[str] = []
    newcomers: list[asyncio.Task[None]] = []
    pool: FairPool

    async def take(name: str) -> None:
        async with pool.acquire() as conn:
            order.append(name)
            await conn.fetchval("select 1")

    async def reset(_conn: asyncpg.Connection) -> None:
        # Runs as the held connection goes back, just before the waiting caller is woken: a newcomer arrives then.
        if not newcomers:
            newcomers.append(asyncio.create_task(take("newcomer")))

    waits: list[float] = []
    pool = await open_fair_pool(database, min_size=1, max_size=1, reset=reset, on_wait=waits.append)
    try:
        held = await pool.acquire()
        waiting = asyncio.create_task(take("waiting"))
        while not pool.waiting:  # the caller is in line
            await asyncio.sleep(0)
        await pool.release(held)
        await asyncio.wait_for(waiting, 5)
        await asyncio.wait_for(newcomers[0], 5)
        assert order == ["waiting", "newcomer"]
        # What ops see (microcredit_postgres_pool_wait_seconds): the first caller found a connection free, the next two
        # waited for theirs.
        assert len(waits) == 3 and waits[0] < min(waits[1:])
    finally:
        await pool.close()


async def test_a_connection_lost_in_use_or_a_wait_that_timed_out_leaves_the_pool_whole(database: str) -> None:
    pool = await create_pool(database, "fair_pool", max_size=2)
    try:
        async with pool.acquire() as first, pool.acquire() as second:
            with pytest.raises(TimeoutError):  # both connections are out
                await pool.acquire(timeout=0.05)
            first.terminate()  # its connection lost while in use: asyncpg puts it back in the queue at once
            assert await second.fetchval("select 1") == 1

        # Both turns came back: two connections can be held at once again, and they answer.
        async with pool.acquire(timeout=2) as first, pool.acquire(timeout=2) as second:
            assert [await first.fetchval("select 1"), await second.fetchval("select 2")] == [1, 2]
        assert await pool.fetchval("select 3") == 3
    finally:
        await pool.close()
