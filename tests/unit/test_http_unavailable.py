"""A database that restarts, is down or is full answers 503 with `Retry-After`; a bug still answers 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from shared.http import install_problem_handlers

pytestmark = pytest.mark.unit

# What asyncpg raises while Postgres restarts (its own messages), stops, refuses or is saturated.
OUTAGES = [
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.InterfaceError("pool is closing"),
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
]
BUGS = [
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    asyncpg.UndefinedColumnError('column "amount" does not exist'),
    ValueError("a bug"),
]


def _raising(exc: Exception) -> httpx.AsyncClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/loans")
    async def loans() -> None:
        raise exc

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://test")


@pytest.mark.parametrize("outage", OUTAGES, ids=lambda e: f"{type(e).__name__}: {e}")
async def test_a_database_outage_answers_503_with_retry_after(outage: Exception) -> None:
    async with _raising(outage) as client:
        answer = await client.get("/loans")

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "the database does not answer; retry in a few seconds"


@pytest.mark.parametrize("bug", BUGS, ids=lambda e: f"{type(e).__name__}: {e}")
async def test_a_bug_still_answers_500(bug: Exception) -> None:
    async with _raising(bug) as client:
        answer = await client.get("/loans")

    assert answer.status_code == 500
    assert "Retry-After" not in answer.headers
