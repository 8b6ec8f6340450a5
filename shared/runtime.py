"""Assembles one service process: settings, pool and migrations, broker, outbox relay, HTTP API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.arrivals import Arrivals, channel
from shared.broker import create_broker
from shared import asyncapi
from shared.asyncapi import declare_publishers
from shared.clock import Clock, SystemClock
from shared.consumer import BatchSettings, EventConsumer, Handler, PoolHolder, register_consumer
from shared.deadletters import keep_dead_letters, refresh_pending
from shared.deadletters_api import dead_letters_router
from shared.events.envelope import Envelope
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.docs import docs_router
from shared.failpoints import Failpoints
from shared.http import install_problem_handlers, problem_response
from shared.idempotency import IdempotencyKeys, forget_expired_periodically
from shared.metrics import OperationsMetrics, PlumbingMetrics
from shared.metrics_refresh import OperationsGauges
from shared.middleware import RequestTelemetry
from shared.oidc import KeySet, TokenVerifier
from shared.openapi import install_openapi, problems
from shared.outbox import seal_with
from shared.outbox_relay import OutboxRelay
from shared.privacy.keyring import KEYRING_MIGRATIONS
from shared.privacy.sealing import KEY_HOLDERS, Opener, Sealer, needs_keyring
from shared.settings import ServiceSettings
from shared.telemetry import create_tracer_provider
from shared.timers import Timer, periodic, timers_router

log = logging.getLogger(__name__)

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass
class ServiceContext(Generic[SettingsT]):
    """What a service's handlers and routes get: its own settings, clock, database and broker."""

    name: str
    schema: str
    settings: SettingsT
    clock: Clock
    broker: KafkaBroker
    failpoints: Failpoints
    metrics: PlumbingMetrics
    registry: CollectorRegistry  # the service's /metrics: a service registers its own gauges here
    verifier: TokenVerifier  # checks the identity provider's access tokens (never signs one)
    operations: OperationsMetrics | None = None  # lag, topic sizes, outbox age, event latency, HTTP requests
    pools: PoolHolder = field(default_factory=PoolHolder)
    # consumer group → its topics, or the pattern of its topics (the lag gauge; it keeps their dead letters)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tracer: Tracer = field(default_factory=lambda: trace.get_tracer(__name__))
    consumers: list[EventConsumer] = field(default_factory=list)
    # Set when a consumer applied something: parked events may now find what they wait for.
    applied: asyncio.Event = field(default_factory=asyncio.Event)
    # Opens the personal fields of events the service is granted (shared.privacy.sealing.GRANTS), None if none.
    opener: Opener | None = None
    # Reads that wait (`Prefer: wait=N`) for what the consumers registered with `announce=True` will apply.
    arrivals: Arrivals = field(init=False)

    def __post_init__(self) -> None:
        self.arrivals = Arrivals(self.settings.database_url.get_secret_value(), self.schema)

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's open connection pool."""
        return self.pools.get()

    def consume(
        self,
        group_id: str,
        topics: tuple[str, ...],
        handlers: Mapping[type[Envelope[Any]], Handler],
        *,
        pattern: str | None = None,
        address: str | None = None,
        refuse: Callable[[str, Envelope[Any]], str | None] | None = None,
        announce: bool = False,
    ) -> None:
        """Subscribe `handlers` (event class → handler) at-least-once, each applied in one transaction.

        `pattern` (a regular expression) instead of `topics`: every topic it matches, one created later included.
        `refuse(topic, event)`: why an event may not come on that topic (dead-lettered with the reason), or None.
        `announce`: each batch's transaction notifies the keys it applied, for the reads that wait (`shared.arrivals`).
        """
        named = topics if pattern is None else (pattern,)
        self.groups[group_id] = tuple(sorted({*self.groups.get(group_id, ()), *named}))
        settings = self.settings
        self.consumers.append(register_consumer(
            self.broker,
            pools=self.pools,
            group_id=group_id,
            topics=topics,
            handlers=handlers,
            clock=self.clock,
            failpoints=self.failpoints,
            metrics=self.metrics,
            operations=self.operations,
            batching=BatchSettings(
                max_records=settings.consumer_batch_size,
                max_wait_ms=settings.consumer_batch_wait_ms,
                park_retry_seconds=settings.consumer_park_retry_seconds,
                park_max_seconds=settings.consumer_park_max_seconds,
                session_timeout_ms=settings.consumer_session_timeout_ms,
                heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
                commit_interval_ms=settings.consumer_commit_interval_ms,
            ),
            tracer=self.tracer,
            on_applied=self.applied.set,
            pattern=pattern,
            address=address,
            refuse=refuse,
            opener=self.opener,
            announce=channel(self.schema) if announce else None,
        ))


@dataclass(frozen=True)
class ServiceDefinition(Generic[SettingsT]):
    """The parts that make one service: its schema, migrations, HTTP routes, Kafka consumers and timers."""

    name: str
    title: str
    description: str
    schema: str
    migrations: Path
    router: APIRouter
    settings_cls: type[SettingsT]
    register_consumers: Callable[[ServiceContext[SettingsT]], None] = lambda _ctx: None
    timers: tuple[Timer[SettingsT], ...] = ()
    # Postgres' own figures (connections, database size) are the same for every service: one reports them.
    postgres_statistics: bool = False
    # What the service writes through its outbox: the `send` operations of its AsyncAPI document.
    publishes: tuple[type[Envelope[Any]], ...] = ()

    def create_app(
        self,
        settings: SettingsT | None = None,
        *,
        clock: Clock | None = None,
        tracer_provider: TracerProvider | None = None,
        keys: KeySet | None = None,
    ) -> FastAPI:
        """The service's ASGI app, with settings from the environment unless given (and the issuer's keys, fetched)."""
        return create_service_app(
            self, settings or self.settings_cls(), clock=clock, tracer_provider=tracer_provider, keys=keys
        )


async def service_context(request: Request) -> ServiceContext[Any]:
    """FastAPI dependency giving a route its service context (each service's `Context` alias types it).

    Async although it awaits nothing: FastAPI runs a plain `def` dependency in a worker thread.
    """
    return request.app.state.ctx


def create_service_app(
    definition: ServiceDefinition[SettingsT],
    settings: SettingsT,
    *,
    clock: Clock | None = None,
    tracer_provider: TracerProvider | None = None,
    keys: KeySet | None = None,
) -> FastAPI:
    """Build the service's ASGI app; nothing connects until the app's lifespan starts."""
    tracer_provider = tracer_provider or create_tracer_provider(definition.name, settings.otlp_endpoint)
    registry = CollectorRegistry()
    broker = create_broker(
        settings.kafka_bootstrap_servers, client_id=definition.name, registry=registry, login=settings.kafka_login,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
    )
    clock = clock or SystemClock()
    keys = keys or KeySet(
        settings.oidc_issuer, now=clock.now, jwks_url=settings.oidc_jwks_url, ttl_seconds=settings.oidc_keys_ttl_seconds
    )
    ctx: ServiceContext[SettingsT] = ServiceContext(
        name=definition.name,
        schema=definition.schema,
        settings=settings,
        clock=clock,
        broker=broker,
        failpoints=Failpoints(settings.failpoints),
        metrics=PlumbingMetrics.create(registry),
        operations=OperationsMetrics.create(registry),
        registry=registry,
        verifier=TokenVerifier(keys, audience=settings.oidc_audience, leeway_seconds=settings.oidc_leeway_seconds, now=clock.now),
        tracer=trace.get_tracer("shared.consumer", tracer_provider=tracer_provider),
    )
    # A service that writes or reads personal fields, or destroys keys (KEY_HOLDERS), needs the KEK and the keyring's
    # tables: it refuses to start without the KEK (its documents, which start nothing, are made without).
    seals_or_opens = needs_keyring(definition.name, definition.publishes)
    personal = seals_or_opens or definition.name in KEY_HOLDERS
    keyring = settings.keyring() if personal and settings.privacy_kek is not None else None
    if keyring is not None and seals_or_opens:  # the sealer is the process's: a service that only destroys keys sets none
        ctx.opener = Opener.for_service(definition.name, keyring)
        seal_with(Sealer(keyring))
    definition.register_consumers(ctx)
    declare_publishers(broker, definition.name, definition.publishes)
    keep_dead_letters(ctx)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.database_url.get_secret_value(), definition.schema, max_size=settings.database_pool_size,
            on_wait=ctx.operations.pool_wait.observe if ctx.operations is not None else None,
        )
        relay = OutboxRelay(
            pool,
            broker,
            schema=definition.schema,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            metrics=ctx.metrics,
            tracer_provider=tracer_provider,
        )
        tasks: list[asyncio.Task[None]] = []
        gauges: OperationsGauges | None = None
        try:
            if personal and keyring is None:
                settings.keyring()  # raises, naming the setting that is missing
            await migrate(
                pool, definition.schema,
                [PLUMBING_MIGRATIONS, *([KEYRING_MIGRATIONS] if keyring is not None else []), definition.migrations],
            )
            ctx.pools.pool = pool
            await refresh_pending(ctx)
            await broker.start()
            relay.start()
            if settings.metrics_refresh_seconds > 0 and ctx.operations is not None:
                gauges = OperationsGauges(
                    ctx.operations,
                    bootstrap_servers=settings.kafka_bootstrap_servers,
                    login=settings.kafka_login,
                    client_id=definition.name,
                    groups=ctx.groups,
                    pool=pool,
                    postgres_statistics=definition.postgres_statistics,
                    interval=settings.metrics_refresh_seconds,
                )
                gauges.start()
            tasks = [
                asyncio.create_task(periodic(timer)(ctx), name=f"{definition.name}-{timer.name}") for timer in definition.timers
            ] + [
                asyncio.create_task(consumer.run_parked(ctx.applied), name=f"{consumer.group_id}-parked")
                for consumer in ctx.consumers
            ]
            if settings.idempotency_cleanup_seconds > 0:
                tasks.append(asyncio.create_task(forget_expired_periodically(ctx), name=f"{definition.name}-idempotency-keys"))
            log.info("%s ready", definition.name)
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if gauges is not None:
                await gauges.stop()
            await relay.stop()
            await ctx.arrivals.close()
            await asyncio.gather(*(consumer.commits.stop() for consumer in ctx.consumers))  # what was applied stays applied
            await broker.stop()
            await pool.close()
            tracer_provider.force_flush()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,  # served by shared.docs with local assets
        redoc_url=None,  # ReDoc's page loads its script from a CDN
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    app.include_router(definition.router)
    if definition.timers:
        app.include_router(timers_router(definition.name, definition.timers, service_context))
    app.include_router(dead_letters_router(service_context))

    app.add_middleware(IdempotencyKeys, ctx=ctx, api=app)
    # Added last, so outermost of the app's own middlewares: it counts and traces every answer, replays and 415s included.
    app.add_middleware(RequestTelemetry, histogram=ctx.operations.http_requests if ctx.operations is not None else None)

    install_openapi(app, service_context)
    app.include_router(
        docs_router(
            app,
            lambda: asyncapi.specification(
                broker, service=definition.name, title=definition.title, description=definition.description
            ),
        )
    )

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": definition.name}

    @app.get("/ready", tags=["operations"], summary="Readiness: database and broker answer", responses=problems(503))
    async def ready() -> JSONResponse:
        try:
            await ctx.pool.fetchval("select 1")
        except Exception as exc:  # readiness reports any dependency failure, it never raises
            return problem_response(503, "Not ready", repr(exc))
        # FastStream's ping says False (it does not raise) when the broker does not answer in time.
        if not await broker.ping(timeout=2.0):
            return problem_response(503, "Not ready", "the Kafka broker does not answer")
        return JSONResponse({"status": "ready", "service": definition.name})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider, excluded_urls="health,ready,metrics", exclude_spans=["receive", "send"]
    )
    if settings.trace_sql:  # a span per SQL statement: for a diagnosis (it patches asyncpg for the whole process)
        asyncpg_instrumentor = AsyncPGInstrumentor()
        if not asyncpg_instrumentor.is_instrumented_by_opentelemetry:
            asyncpg_instrumentor.instrument(tracer_provider=tracer_provider)
    return app
