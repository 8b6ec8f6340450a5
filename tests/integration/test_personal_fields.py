"""Personal fields in the event log: sealed when they leave intake, opened only by the services granted them, and
unreadable on the topic once the applicant's key is destroyed (crypto-shredding)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from services.notifications import handlers as notifications_handlers
from shared.batch_handler import BatchHandler
from shared.events import ApplicationSubmitted, Topics, parse_event
from shared.events.personal import Sealed, personal_fields
from shared.privacy.keyring import KeyRing
from tests.integration.conftest import NOW, RunningService, ServiceStarter, run_service
from tests.support import intake as files
from tests.support.privacy import TEST_KEK_BYTES, opened, records_of
from tests.support.tokens import bearer, counsellor

pytestmark = pytest.mark.integration

NADIA = bearer(counsellor())
# What Nadia Benali's file says about her that must never be readable outside the services granted it.
HER_DATA = (b"Nadia", b"Benali", b"1988-06-14", b"Garage Dupont", b"family_allowances", b"135000", b"82000")


async def submit(intake: RunningService) -> UUID:
    """Nadia Benali's complete file, opened and submitted by her counsellor; its id."""
    draft = await intake.http.post("/applications", json=files.complete_file(), headers=NADIA)
    assert draft.status_code == 201, draft.text
    submitted = await intake.http.post(f"/applications/{draft.json()['id']}/submission", json={}, headers=NADIA)
    assert submitted.status_code == 200, submitted.text
    return UUID(draft.json()["id"])


async def test_only_the_services_granted_a_personal_field_read_it_in_clear(
    start_service: ServiceStarter, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_by_notifications: list[ApplicationSubmitted] = []
    remember = notifications_handlers.BATCHED[ApplicationSubmitted]

    async def recording(conn: asyncpg.Connection, event: ApplicationSubmitted, files: Any) -> None:
        seen_by_notifications.append(event)
        await remember.apply(conn, event, files)

    recorded = BatchHandler(remember.prepare, recording, remember.finish)
    monkeypatch.setitem(notifications_handlers.BATCHED, ApplicationSubmitted, recorded)
    intake, assessment, notifications = [await start_service(name) for name in ("intake", "assessment", "notifications")]

    application_id = await submit(intake)
    [row] = await intake.fetch("select key, payload from outbox")
    payload = bytes(row["payload"])
    assert [part for part in HER_DATA if part in payload] == []  # not even intake's own outbox table holds them in clear
    event = parse_event(payload)
    assert all(isinstance(getattr(event.data, f), Sealed) for f in ("applicant_name", "birth_date", "household", "resources"))
    assert (event.data.application_id, event.data.amount_cents, event.data.duration_months) == (application_id, 300_000, 36)

    for reader in (assessment, notifications):
        await reader.deliver_raw(payload, topic=Topics.APPLICATIONS, key=row["key"].encode())

    # Assessment is granted the whole file: its review has the name, the household and the budget.
    [file] = await assessment.fetch(
        "select applicant_name, household, monthly_resources_cents, monthly_charges_cents from assessments where application_id = $1",
        application_id,
    )
    assert (file["applicant_name"], json.loads(file["household"])) == ("Nadia Benali", {"adults": 1, "children_ages": [9, 15]})
    assert (file["monthly_resources_cents"], file["monthly_charges_cents"]) == (135_000, 82_000)
    # Notifications is granted the name only, for the counsellor's e-mails: the rest reached it sealed.
    [seen] = seen_by_notifications
    assert seen.data.applicant_name == "Nadia Benali"
    clear = [f for f in personal_fields(ApplicationSubmitted) if not isinstance(v := getattr(seen.data, f), Sealed) and v is not None]
    assert clear == ["applicant_name"]
    assert [r["applicant_name"] for r in await notifications.fetch("select applicant_name from files")] == ["Nadia Benali"]


async def test_once_the_key_is_destroyed_the_events_on_the_topic_keep_nothing_readable_and_readers_make_do(
    kafka: str, database: str, start_service: ServiceStarter
) -> None:
    async with run_service("intake", database, kafka=kafka) as intake:
        application_id = await submit(intake)
        key = str(application_id).encode()
        for _ in range(100):  # the relay publishes within a second
            if records := await records_of(kafka, Topics.APPLICATIONS, key):
                break
            await asyncio.sleep(0.1)
    [record] = records
    [before] = await opened(database, [parse_event(record)])
    assert before.data.applicant_name == "Nadia Benali"  # readable with the key

    conn = await asyncpg.connect(database)
    try:
        assert await KeyRing(TEST_KEK_BYTES).destroy(conn, application_id, NOW) is True
    finally:
        await conn.close()

    [on_the_topic] = await records_of(kafka, Topics.APPLICATIONS, key)
    assert [part for part in HER_DATA if part in on_the_topic] == []
    [after] = await opened(database, [parse_event(on_the_topic)])
    assert all(isinstance(getattr(after.data, f), Sealed) for f in ("applicant_name", "birth_date", "household", "resources", "project"))

    # A reader that meets the event again (a replay) neither fails nor takes in a file it cannot read.
    assessment, notifications = await start_service("assessment"), await start_service("notifications")
    for reader in (assessment, notifications):
        await reader.deliver_raw(on_the_topic, topic=Topics.APPLICATIONS, key=key)
        assert reader.dead_letters == []
    assert await assessment.fetch("select 1 from assessments where application_id = $1", application_id) == []
    assert [r["applicant_name"] for r in await notifications.fetch("select applicant_name from files")] == [None]
