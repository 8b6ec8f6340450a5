"""What each service tells about itself: `/docs` works offline (its assets served by the service), and its
AsyncAPI document at `/asyncapi.json` and `/asyncapi.yaml` is the one in docs/asyncapi/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import yaml

from deploy import asyncapi

pytestmark = pytest.mark.integration


@pytest.fixture(params=asyncapi.SERVICES)
async def service(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A service's app, not started: these routes need neither its database nor its broker."""
    name = request.param
    app = asyncapi.service_app(name)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        yield name, client


async def test_docs_names_no_other_host_and_its_assets_answer(service: tuple[str, httpx.AsyncClient]) -> None:
    _, client = service

    page = await client.get("/docs")

    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""", page.text)
    urls = [u for pair in urls for u in pair if u]
    assert not re.search(r"https?://", page.text), "the page names another host"
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/openapi.json"} <= set(urls)
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 200, url
    assert (await client.get("/redoc")).status_code == 404  # ReDoc's page would load its script from a CDN
    assert (await client.get("/docs/assets/package.json")).status_code == 404


async def test_the_service_serves_its_asyncapi_document(service: tuple[str, httpx.AsyncClient]) -> None:
    name, client = service
    committed = yaml.safe_load((asyncapi.OUT_DIR / f"{name}.yaml").read_text())

    as_json = await client.get("/asyncapi.json")
    as_yaml = await client.get("/asyncapi.yaml")

    assert as_json.status_code == as_yaml.status_code == 200
    assert as_json.json() == committed
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == committed
    assert {"/asyncapi.json", "/asyncapi.yaml", "/docs"}.isdisjoint((await client.get("/openapi.json")).json()["paths"])
