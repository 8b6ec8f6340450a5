"""The workspace's server-side sessions on a real Postgres: what the browser holds is worth nothing in the table."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from services.web.pages.signin import safe_return
from services.web.sessions import SessionStore
from shared.clock import FixedClock
from shared.db import create_pool, migrate
from tests.integration.conftest import NOW

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).parents[2] / "services" / "web" / "migrations"


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, "web")
    await migrate(pool, "web", [MIGRATIONS])
    yield pool
    await pool.close()


async def test_a_session_is_found_by_its_cookie_and_the_table_keeps_only_a_hash(pool: asyncpg.Pool) -> None:
    store = SessionStore(pool, FixedClock(NOW))

    session = await store.create({"round_trip": {"state": "s"}}, timedelta(hours=1))

    assert (await store.load(session.id)).data == {"round_trip": {"state": "s"}}  # type: ignore[union-attr]
    kept = await pool.fetchval("select id_hash from sessions")
    assert kept == hashlib.sha256(session.id.encode()).hexdigest() and session.id not in kept
    assert await store.load("a-guessed-id") is None


async def test_signing_in_rotates_the_session_so_an_id_planted_before_is_worthless(pool: asyncpg.Pool) -> None:
    store = SessionStore(pool, FixedClock(NOW))
    planted = await store.create({"round_trip": {"state": "s"}}, timedelta(hours=1))

    signed = await store.rotate(planted, {"access_token": "t"}, timedelta(hours=1))

    assert await store.load(planted.id) is None
    assert (await store.load(signed.id)).signed_in  # type: ignore[union-attr]
    assert signed.csrf != planted.csrf and signed.csrf_matches(signed.csrf) and not signed.csrf_matches(planted.csrf)


async def test_a_session_ends_at_its_time_on_the_injected_clock_and_is_purged(pool: asyncpg.Pool) -> None:
    clock = FixedClock(NOW)
    store = SessionStore(pool, clock)
    session = await store.create({"access_token": "t"}, timedelta(hours=10))

    clock.advance(timedelta(hours=10))

    assert await store.load(session.id) is None
    assert await store.purge() == 1


@pytest.mark.parametrize(("asked", "kept"), [
    ("/alertes", "/alertes"), ("https://elsewhere.example/", "/"), ("//elsewhere.example/x", "/"), (None, "/"), ("", "/"),
])
def test_after_sign_in_only_a_page_of_this_site_is_a_place_to_return_to(asked: str | None, kept: str) -> None:
    assert safe_return(asked) == kept
