"""One platform, one web workspace and one Chromium for every browser test of this directory."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from deploy.local import REPO_ROOT
from deploy.local.identity import LocalIdentity
from deploy.local.ports import find_free_ports
from deploy.local.services import WEB, ServiceProcess, web_env
from tests.e2e.conftest import RunningPlatform, running_platform


@pytest.fixture(scope="session")
async def platform(
    kafka: str, postgres: str, keycloak: LocalIdentity, zipkin: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningPlatform]:
    """The five services, shared by the browser tests (each test works on files of its own).

    Webhooks may go to a test's own http:// receiver; a failed one waits for a resend rather than a retry."""
    notifications = {"WEBHOOK_ALLOW_INSECURE_URLS": "true", "WEBHOOK_RETRY_BASE_SECONDS": "600", "DELIVERY_INTERVAL_SECONDS": "1"}
    async with running_platform(kafka, postgres, keycloak, zipkin, tmp_path_factory.mktemp("web-platform"), {"notifications": notifications}) as running:
        yield running


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium (installed by deploy/browser.sh when missing), headless, one for the whole run."""
    path = subprocess.run([str(REPO_ROOT / "deploy" / "browser.sh")], capture_output=True, text=True, check=True).stdout.strip()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--lang=fr-FR"])
        yield chromium
        await chromium.close()
