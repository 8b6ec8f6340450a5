"""In-process services: the real app, its own fresh database, and FastStream's in-memory Kafka broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.sdk.trace import TracerProvider

from services.assessment.app import DEFINITION as ASSESSMENT
from services.directory.app import DEFINITION as DIRECTORY
from services.intake.app import DEFINITION as INTAKE
from services.notifications.app import DEFINITION as NOTIFICATIONS
from services.privacy.app import DEFINITION as PRIVACY
from services.servicing.app import DEFINITION as SERVICING
from shared.clock import FixedClock
from shared.events import ApplicationSubmitted, BankDecision, BankPayment, Envelope, LoanApproved, PaymentMissed, Topics, new_event
from shared.events.banks import incoming_topic
from shared.events import ApplicationSubmittedData, LoanApprovedData, PaymentMissedData
from shared.runtime import ServiceDefinition
from tests.conftest import fresh_database
from tests.support import directory
from tests.support.infra import service_kafka_settings
from tests.support.tokens import TEST_ISSUER, test_keys
from tests.support.privacy import TEST_KEK

DEFINITIONS: dict[str, ServiceDefinition] = {
    d.name: d for d in (INTAKE, ASSESSMENT, SERVICING, NOTIFICATIONS, DIRECTORY, PRIVACY)
}
# A Monday morning in Paris: business dates in the tests are relative to it.
NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
TODAY = NOW.date()
# The services that keep a copy of the directory: they are told the tests' directory when they start.
DIRECTORY_READERS = frozenset({"assessment", "notifications"})
# Nothing listens there: any attempt to reach a real broker fails loudly instead of hanging on one.
UNREACHABLE_KAFKA = "127.0.0.1:1"


def topic_of(event: Envelope[Any]) -> str:
    """The topic an event is written to: its class's, or for a bank's decision or payment the incoming topic of the bank it names."""
    return incoming_topic(event) if isinstance(event, (BankDecision, BankPayment)) else event.topic


@dataclass(frozen=True)
class DeadLetter:
    """One record the service sent to the dead-letter topic."""

    body: bytes
    key: bytes | None
    headers: dict[str, str]


@dataclass
class RunningService:
    """A started service: HTTP client, in-memory broker, database and what reached the dead-letter topic."""

    name: str
    app: FastAPI
    broker: KafkaBroker
    dsn: str
    clock: FixedClock
    http: httpx.AsyncClient = field(init=False)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    async def deliver(self, event: Envelope[Any]) -> None:
        """Deliver an event on its topic (a bank's: that bank's own), keyed by its subject, as its producer would."""
        await self.deliver_raw(event.to_bytes(), topic=topic_of(event), key=event.subject.encode())

    async def deliver_raw(self, body: bytes, *, topic: str, key: bytes = b"") -> None:
        """Deliver raw bytes, e.g. a record a buggy producer wrote."""
        await self.broker.publish(body, topic=topic, key=key, headers={"content-type": "application/cloudevents+json"})

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """Rows of the service's schema, to check what it stored."""
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": self.app.state.ctx.schema})
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


@asynccontextmanager
async def _parked_outbox_relay(dsn: str, schema: str) -> AsyncIterator[None]:
    """Hold the relay's leader lock so outbox rows stay in the table for the test to read."""
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select pg_try_advisory_lock(hashtext($1))", f"outbox-relay:{schema}")
        yield
    finally:
        await conn.close()


@asynccontextmanager
async def run_service(
    name: str, dsn: str, *, clock: FixedClock | None = None, issuer: str | None = None, kafka: str | None = None, **settings_: Any
) -> AsyncIterator[RunningService]:
    """Start one service in this process on `dsn`, its Kafka replaced by FastStream's in-memory broker.

    It trusts the test issuer's key (tests/support/tokens.py), or with `issuer` a real provider's
    published keys, fetched as in production. With `kafka`, it runs on that real broker instead, its
    outbox relay publishing (`dead_letters` then stays empty: read the topic or the service's API).
    """
    definition = DEFINITIONS[name]
    if kafka is not None:
        settings_ = {**service_kafka_settings(kafka, name), **settings_}  # the service's own principal
    settings = definition.settings_cls(
        database_url=dsn, kafka_bootstrap_servers=kafka or UNREACHABLE_KAFKA, oidc_issuer=issuer or TEST_ISSUER,
        **{"privacy_kek": TEST_KEK, **settings_},
    )
    clock = clock or FixedClock(NOW)
    keys = None if issuer else test_keys(clock.now)
    app = definition.create_app(settings, clock=clock, tracer_provider=TracerProvider(), keys=keys)
    broker: KafkaBroker = app.state.ctx.broker
    service = RunningService(name, app, broker, dsn, clock)

    if kafka is None:
        # Registered before the broker starts, like any subscriber: it sees what the service dead-letters.
        @broker.subscriber(Topics.DEAD_LETTER, group_id=f"test-{name}-dead-letters")
        async def _record_dead_letter(message: KafkaMessage) -> None:
            service.dead_letters.append(
                DeadLetter(message.body, message.raw_message.key, {k: v for k, v in message.headers.items() if isinstance(v, str)})
            )

    async with AsyncExitStack() as stack:
        if kafka is None:
            await stack.enter_async_context(_parked_outbox_relay(dsn, definition.schema))
            await stack.enter_async_context(TestKafkaBroker(broker))
        await stack.enter_async_context(app.router.lifespan_context(app))
        service.http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://test")
        )
        ready = await service.http.get("/ready")
        assert ready.status_code == 200, ready.text
        if name in DIRECTORY_READERS:
            for snapshot in directory.snapshots():
                await service.deliver(snapshot)
        yield service


ServiceStarter = Callable[[str], Awaitable[RunningService]]
PreparedService = Callable[[str], Awaitable[tuple[RunningService, dict[str, str]]]]


@asynccontextmanager
async def prepared_once(postgres: str, prepare: Callable[[RunningService], Awaitable[dict[str, str]]]) -> AsyncIterator[PreparedService]:
    """Each service started and put in the state `prepare` makes once, on a database of its own, then shared.

    For the many cases of one module whose requests are refused and so change nothing (each case asserts the
    refusal): starting and preparing a service again for each of them is most of their time.
    """
    started: dict[str, tuple[RunningService, dict[str, str]]] = {}
    async with AsyncExitStack() as stack:

        async def get(name: str) -> tuple[RunningService, dict[str, str]]:
            if name not in started:
                service = await stack.enter_async_context(run_service(name, await stack.enter_async_context(fresh_database(postgres))))
                started[name] = (service, await prepare(service))
            return started[name]

        yield get


# A read, or a request the caller is refused, changes nothing: the cases of one module that only make such
# requests share a prepared service; a request expected to succeed in changing something gets a service of its own.
READS = frozenset({"GET", "HEAD"})


def changes_state(method: str, expected_status: int) -> bool:
    """Whether a request answered `expected_status` changes what the next case would see."""
    return method not in READS and expected_status < 400


@asynccontextmanager
async def service_for_request(
    method: str, expected_status: int, name: str, shared: PreparedService, postgres: str,
    prepare: Callable[[RunningService], Awaitable[dict[str, str]]],
) -> AsyncIterator[tuple[RunningService, dict[str, str]]]:
    """The prepared service a request is tried on: the module's shared one, or one of its own (`changes_state`)."""
    if not changes_state(method, expected_status):
        yield await shared(name)
        return
    async with fresh_database(postgres) as dsn, run_service(name, dsn) as service:
        yield service, await prepare(service)


@pytest.fixture
async def start_service(database: str) -> AsyncIterator[ServiceStarter]:
    """Start services by name on the test's own database; all are stopped after the test."""
    async with AsyncExitStack() as stack:

        async def start(name: str) -> RunningService:
            return await stack.enter_async_context(run_service(name, database))

        yield start


# --- realistic files ------------------------------------------------------------------------------

OWNERSHIP = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-lefebvre"}


def application_body(**overrides: Any) -> dict[str, Any]:
    """Nadia Benali asks 3,000 € over 36 months for a car to get to her job in Lens."""
    return {
        **OWNERSHIP,
        "applicant_name": "Nadia Benali",
        "purpose": "vehicle",
        "amount_cents": 300_000,
        "duration_months": 36,
        "monthly_resources_cents": 135_000,
        "monthly_charges_cents": 82_000,
        **overrides,
    }


def favourable_outcome(**overrides: Any) -> dict[str, Any]:
    """The counsellor's favourable opinion, routed to the Crédit Mutuel branch."""
    return {
        "outcome": "favourable",
        "opinion": "Projet cohérent : CDI à Lens, pas de transport en commun aux horaires de nuit.",
        "bank_id": "credit-mutuel-nord",
        "amount_cents": 300_000,
        "duration_months": 36,
        "annual_rate": "0.035",
        **overrides,
    }


def bank_approval(**overrides: Any) -> dict[str, Any]:
    """The bank approves the proposed terms, first instalment a month from now."""
    return {
        "decision": "approve",
        "bank_id": "credit-mutuel-nord",
        "amount_cents": 300_000,
        "annual_rate": "0.035",
        "duration_months": 36,
        "first_due_date": date(2026, 4, 5).isoformat(),
        **overrides,
    }


def application_submitted(application_id: UUID | None = None, **data: Any) -> ApplicationSubmitted:
    """Intake's `application submitted` for Nadia Benali's 3,000 € car loan."""
    application_id = application_id or uuid4()
    body = application_body(**data)
    return new_event(
        ApplicationSubmitted,
        source="/services/intake",
        subject=str(application_id),
        time=NOW,
        data=ApplicationSubmittedData(application_id=application_id, **body),
    )


def loan_approved(application_id: UUID | None = None, **data: Any) -> LoanApproved:
    """The bank approves 3,000 € at 3.5 % over 36 months, first instalment on 5 April 2026."""
    application_id = application_id or uuid4()
    terms = {
        **OWNERSHIP,
        "bank_id": "credit-mutuel-nord",
        "amount_cents": 300_000,
        "annual_rate": Decimal("0.035"),
        "duration_months": 36,
        "first_due_date": date(2026, 4, 5),
        **data,
    }
    return new_event(
        LoanApproved,
        source="/services/assessment",
        subject=str(application_id),
        time=NOW,
        data=LoanApprovedData(application_id=application_id, **terms),
    )


def payment_missed(loan_id: UUID | None = None, **data: Any) -> PaymentMissed:
    """Servicing's close of business finds the first 87.91 € instalment of 5 April 2026 unpaid."""
    loan_id = loan_id or uuid4()
    facts = {
        **OWNERSHIP,
        "application_id": uuid4(),
        "instalment_number": 1,
        "due_date": date(2026, 4, 5),
        "amount_due_cents": 8_791,
        "amount_unpaid_cents": 8_791,
        "business_date": date(2026, 4, 6),
        **data,
    }
    return new_event(
        PaymentMissed,
        source="/services/servicing",
        subject=str(loan_id),
        time=NOW,
        data=PaymentMissedData(loan_id=loan_id, **facts),
    )
