"""The contract tests run against the five services as OS processes, like the end-to-end tests, without
exporting their spans: thousands of fuzzed requests would only crowd the Zipkin the other tests read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deploy.local.identity import LocalIdentity
from tests.e2e.conftest import RunningPlatform, running_platform


@pytest.fixture(scope="module")
async def platform(
    kafka: str, postgres: str, keycloak: LocalIdentity, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningPlatform]:
    """The five services on a database of their own, their spans not exported."""
    async with running_platform(kafka, postgres, keycloak, "", tmp_path_factory.mktemp("contract-platform")) as running:
        yield running
