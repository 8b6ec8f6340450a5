"""One platform and one web workspace for every browser test of this directory (Chromium: tests/e2e/conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from deploy.local.identity import LocalIdentity
from deploy.local.ports import find_free_ports
from deploy.local.services import WEB, ServiceProcess, web_env
from tests.e2e.conftest import RunningPlatform, running_platform


@pytest.fixture(scope="package")
async def platform(
    kafka: str, postgres: str, keycloak: LocalIdentity, zipkin: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningPlatform]:
    """The five services, shared by the browser tests (each test works on files of its own).

    Webhooks may go to a test's own http:// receiver; a failed one waits for a resend rather than a retry."""
    notifications = {"WEBHOOK_ALLOW_INSECURE_URLS": "true", "WEBHOOK_RETRY_BASE_SECONDS": "600", "DELIVERY_INTERVAL_SECONDS": "1"}
    async with running_platform(kafka, postgres, keycloak, zipkin, tmp_path_factory.mktemp("web-platform"), {"notifications": notifications}) as running:
        yield running


@pytest.fixture(scope="package")
async def workspace(platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The web workspace as its own process, registered at Keycloak as the realm's browser client."""
    [port] = find_free_ports(1)
    identity = platform.identity
    web = ServiceProcess(WEB, port, tmp_path_factory.mktemp("web"), env={
        **web_env(platform.urls, issuer=identity.issuer, client_secret=identity.web_client_secret(), dsn=platform.dsn, zipkin=platform.zipkin),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
    })
    await identity.register_web(web.url)
    web.start()
    try:
        await asyncio.to_thread(web.wait_ready)
        yield web.url
    finally:
        web.stop()
