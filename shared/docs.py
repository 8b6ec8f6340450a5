"""What each service serves about itself besides its API: `/docs` offline, and its AsyncAPI document.

- `/docs`: Swagger UI over `/openapi.json`, its assets from the npm package `swagger-ui-dist`
  (`shared/docs_ui/package.json` and its lock, installed by `deploy/bootstrap.sh` and the Dockerfile) and
  served by the service itself at `/docs/assets/…`: the page names no other host.
- `/asyncapi.json`, `/asyncapi.yaml`: the service's AsyncAPI 3 document (`shared.asyncapi`), what it
  reads and writes on Kafka. FastStream's HTML page for it loads its viewer from a CDN: not served.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from faststream.specification.base import Specification

from shared.asyncapi import to_yaml

SWAGGER_UI_DIR = Path(__file__).resolve().parent / "docs_ui" / "node_modules" / "swagger-ui-dist"
ASSETS_PREFIX = "/docs/assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def docs_router(app: FastAPI, specification: Callable[[], Specification]) -> APIRouter:
    """`/docs` with local assets, and the AsyncAPI document in JSON and YAML (kept out of the OpenAPI document)."""
    router = APIRouter(include_in_schema=False)
    cached: list[Specification] = []

    def document() -> Specification:
        if not cached:
            cached.append(specification())
        return cached[0]

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PREFIX}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @router.get("/docs/oauth2-redirect")
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get(ASSETS_PREFIX + "/{name}")
    async def swagger_ui_asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None or not (SWAGGER_UI_DIR / name).is_file():
            return Response(status_code=404)
        return FileResponse(
            SWAGGER_UI_DIR / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )

    @router.get("/asyncapi.json")
    async def asyncapi_json() -> Response:
        return Response(document().to_json(), media_type="application/json")

    @router.get("/asyncapi.yaml")
    async def asyncapi_yaml() -> Response:
        return Response(to_yaml(document()), media_type="application/yaml")

    return router
