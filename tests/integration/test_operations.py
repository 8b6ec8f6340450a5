"""What ops and API clients find on every service: health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import pytest

from deploy.local.ports import find_free_port
from tests.integration.conftest import ServiceStarter
from tests.support.tokens import bearer, counsellor

pytestmark = pytest.mark.integration

SERVICES = ["intake", "assessment", "servicing", "notifications"]


@pytest.mark.parametrize("name", SERVICES)
async def test_every_service_answers_health_readiness_metrics_and_openapi(name: str, start_service: ServiceStarter) -> None:
    service = await start_service(name)

    assert (await service.http.get("/health")).json() == {"status": "ok", "service": name}
    assert (await service.http.get("/ready")).status_code == 200
    metrics = await service.http.get("/metrics")
    assert metrics.status_code == 200
    assert "microcredit_outbox_backlog" in metrics.text
    assert "microcredit_dead_letters" in metrics.text
    document = (await service.http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"].startswith("Microcredit")


async def test_a_request_is_counted_under_its_route_template_and_names_its_trace(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")

    answer = await intake.http.get(f"/applications/{uuid4()}", headers=bearer(counsellor()))

    assert answer.status_code == 404
    version, trace_id, _span_id, _flags = answer.headers["traceresponse"].split("-")
    assert (version, trace_id) == ("00", answer.json()["trace_id"])
    metrics = (await intake.http.get("/metrics")).text
    assert 'microcredit_http_request_duration_seconds_count{method="GET",route="/applications/{application_id}",status="404"} 1.0' in metrics


async def test_a_database_that_does_not_answer_gets_503_with_retry_after(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    pools = intake.app.state.ctx.pools
    running = pools.pool
    # A pool whose every connection goes to a port nothing listens on: a Postgres that is down.
    pools.pool = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{find_free_port()}/postgres", min_size=0)
    try:
        answer = await intake.http.get("/applications", headers=bearer(counsellor()))
    finally:
        await pools.pool.close()
        pools.pool = running

    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["title"] == "Service unavailable"
    metrics = (await intake.http.get("/metrics")).text
    assert 'microcredit_http_request_duration_seconds_count{method="GET",route="/applications",status="503"} 1.0' in metrics
