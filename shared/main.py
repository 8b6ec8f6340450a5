"""Process entry point shared by the services: `python -m services.<name>`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from opentelemetry import trace

from shared.runtime import ServiceDefinition, create_service_app
from shared.telemetry import configure_logging, create_tracer_provider

# Python's default (700) starts a young collection every 700 net container allocations: under 32 clients intake ran
# some 70 collections a second, 11 % of its CPU. Requests and events free nearly all they allocate by reference
# counting, so the count seldom reaches 20,000: cycles are still collected, a few times a minute instead.
YOUNG_COLLECTION_THRESHOLD = 20_000


def freeze_after_start_up(app: FastAPI) -> None:
    """Once the lifespan has started (modules, models, routes, pools, consumers: some 135,000 objects living as long
    as the process), move what exists to the permanent generation: no collection scans it again."""
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[object]:
        async with started(application) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan


def run_service(definition: ServiceDefinition) -> None:
    """Read settings from the environment and serve the service until SIGTERM/SIGINT."""
    settings = definition.settings_cls()
    configure_logging(definition.name)
    provider = create_tracer_provider(definition.name, settings.otlp_endpoint)
    trace.set_tracer_provider(provider)
    serve(create_service_app(definition, settings, tracer_provider=provider), settings.http_host, settings.http_port)


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` with uvicorn until SIGTERM/SIGINT, the collector tuned for a long-lived server."""
    freeze_after_start_up(app)
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
