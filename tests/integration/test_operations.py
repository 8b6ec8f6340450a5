"""What ops and API clients find on every service: health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ServiceStarter

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
