"""A POST sent again with its `Idempotency-Key` gets the first answer: a retry after a dropped connection opens one draft, not two."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from shared.idempotency import forget_expired
from tests.integration.conftest import RunningService, ServiceStarter
from tests.support import intake as files
from tests.support.tokens import bearer, counsellor

pytestmark = pytest.mark.integration

NADIA = bearer(counsellor())  # c-lefebvre, Secours Catholique
KEY = '"5b0c9f5e-7a51-4f4e-9a43-0d3f7c1e2b11"'


async def drafts(intake: RunningService) -> int:
    """How many files intake holds."""
    return len(await intake.fetch("select id from applications"))


async def test_a_draft_sent_again_with_its_key_is_opened_once_and_answered_alike(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    body = files.complete_file()

    first = await intake.http.post("/applications", json=body, headers={**NADIA, "Idempotency-Key": KEY})
    retry = await intake.http.post("/applications", json=body, headers={**NADIA, "Idempotency-Key": KEY})

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"] == f"/applications/{first.json()['id']}"
    assert retry.headers["Idempotency-Replayed"] == "true" and "Idempotency-Replayed" not in first.headers
    assert await drafts(intake) == 1
    # The key is the caller's own: another counsellor who happens to choose it opens a draft of their own.
    other = await intake.http.post("/applications", json=body, headers={**bearer(counsellor("c-martin")), "Idempotency-Key": KEY})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert await drafts(intake) == 2
    metrics = (await intake.http.get("/metrics")).text  # the replay is counted under its route, as any answer
    assert 'microcredit_http_request_duration_seconds_count{method="POST",route="/applications",status="201"} 3.0' in metrics


async def test_a_key_sent_with_another_body_or_malformed_is_refused_by_name(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    await intake.http.post("/applications", json=files.complete_file(), headers={**NADIA, "Idempotency-Key": KEY})

    reused = await intake.http.post("/applications", json=files.complete_file(amount_cents=450_000), headers={**NADIA, "Idempotency-Key": KEY})
    malformed = await intake.http.post("/applications", json=files.complete_file(), headers={**NADIA, "Idempotency-Key": "k" * 256})

    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in reused.json()["errors"]] == [("Idempotency-Key", "idempotency_key_reused")]
    assert malformed.status_code == 422
    assert [(e["field"], e["rule"]) for e in malformed.json()["errors"]] == [("Idempotency-Key", "idempotency_key_format")]
    assert await drafts(intake) == 1


async def test_a_retry_while_the_first_request_runs_is_told_to_come_back(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    body, headers = files.complete_file(), {**NADIA, "Idempotency-Key": KEY}
    # The first request is held up by a lock on the files, as a slow database would hold it.
    blocker = await asyncpg.connect(intake.dsn, server_settings={"search_path": "intake"})
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("lock table applications in exclusive mode")
        first = asyncio.create_task(intake.http.post("/applications", json=body, headers=headers))
        while not await blocker.fetchval("select count(*) from pg_locks where relation = 'intake.applications'::regclass and not granted"):
            await asyncio.sleep(0.01)

        meanwhile = await intake.http.post("/applications", json=body, headers=headers)

        await transaction.rollback()
    finally:
        await blocker.close()
    answered = await first
    after = await intake.http.post("/applications", json=body, headers=headers)

    assert meanwhile.status_code == 409 and meanwhile.headers["Retry-After"] == "1"
    assert [(e["field"], e["rule"]) for e in meanwhile.json()["errors"]] == [("Idempotency-Key", "idempotency_key_in_use")]
    assert answered.status_code == 201
    assert (after.status_code, after.json()["id"]) == (201, answered.json()["id"])
    assert await drafts(intake) == 1


async def test_a_key_expires_after_a_day(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    body, headers = files.complete_file(), {**NADIA, "Idempotency-Key": KEY}
    first = await intake.http.post("/applications", json=body, headers=headers)

    intake.clock.advance(timedelta(hours=24))
    again = await intake.http.post("/applications", json=body, headers=headers)
    intake.clock.advance(timedelta(hours=24))
    deleted = await forget_expired(intake.app.state.ctx.pool, intake.clock.now())

    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert "Idempotency-Replayed" not in again.headers
    assert deleted == 1 and await intake.fetch("select key from idempotency_keys") == []
