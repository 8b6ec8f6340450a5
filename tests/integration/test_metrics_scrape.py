"""VictoriaMetrics (deploy/local/victoria.py) scrapes a running service's /metrics: the series arrive.

One service (intake) runs as its own OS process on the real broker and database, as `make run` runs it;
VictoriaMetrics is started by the local provisioner on a free port with a scrape file naming it, and
the test asks its query API for the service's series: `up`, the broker-side end offsets and the
consumer lag that the service's background task reads from Kafka, and the outbox's oldest row age.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local.ports import find_free_port
from deploy.local.services import ServiceProcess, kafka_env
from deploy.local.victoria import LocalVictoria
from shared.events import Topics
from tests.support.infra import kafka_login
from tests.support.privacy import PRIVACY_ENV


@pytest.fixture
def intake(kafka: str, database: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The intake service as a process, refreshing its Kafka and outbox gauges every second."""
    proc = ServiceProcess(
        "intake",
        find_free_port(),
        tmp_path / "run",
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            **kafka_env(kafka_login(kafka, "intake")),  # its own principal, as `make run` gives it
            "DATABASE_URL": database,
            "OIDC_ISSUER": "http://127.0.0.1:9/realms/none",  # no request here needs a token
            "METRICS_REFRESH_SECONDS": "1",
            **PRIVACY_ENV,
        },
    )
    proc.start()
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def _query(url: str, expr: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5.0)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def _wait_for(url: str, expr: str, timeout: float = 30.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while not (result := _query(url, expr)):
        assert time.monotonic() < deadline, f"no series for {expr} after {timeout:g} s"
        time.sleep(0.5)
    return result


def test_victoria_metrics_stores_what_a_service_exposes(intake: ServiceProcess, tmp_path: Path) -> None:
    victoria = LocalVictoria(tmp_path / "state")
    try:
        url = victoria.start({"intake": intake.url}, scrape_interval="1s")
        assert victoria.status().running
        [up] = _wait_for(url, 'up{job="microcredit",service="intake"}')
        assert up["value"][1] == "1"  # type: ignore[index]
        _wait_for(url, f'microcredit_kafka_topic_end_offset{{service="intake",topic="{Topics.APPLICATIONS}"}}')
        lag = _wait_for(url, 'microcredit_consumer_lag{service="intake"}')
        # Its groups only: the applications stream's and the erasures' (each consumer group reports its own lag).
        assert {series["metric"]["group"] for series in lag} <= {"intake", "intake-erasures"}  # type: ignore[index]
        _wait_for(url, 'microcredit_consumer_lag{service="intake",group="intake"}')
        _wait_for(url, 'microcredit_outbox_oldest_age_seconds{service="intake"}')
        _wait_for(url, 'microcredit_postgres_database_size_bytes{service="intake"} > 0')
        dashboards = httpx.get(f"{url}/vmui/custom-dashboards", timeout=5.0).json()["dashboardsSettings"]
        assert dashboards, "the dashboards of deploy/metrics/dashboards are served"
    finally:
        victoria.stop()
    assert not victoria.status().running
