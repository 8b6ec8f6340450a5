"""One application from the counsellor's HTTP submission to the counsellor's alert, across the services' processes;
then two replicas of each behind HAProxy, one of each killed mid-way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from opentelemetry import propagate
from playwright.async_api import Browser

from deploy.kafka_security import bank_principal
from deploy.local.haproxy import LocalHaproxy
from deploy.local.journey import Credentials, sample_application, submit_file, walk
from deploy.local.ports import find_free_ports
from deploy.local.services import SERVICES, ServiceProcess, kafka_env, tracing_env
from deploy.local.victoria import LocalVictoria
from deploy.local.zipkin import fetch_trace, zipkin_records
from shared.events import EVENT_TYPES, PARTNER_FIELDS, BankDecision, BankDecisionData, PartnerTopics, Topics, new_event, parse_event
from shared.events.personal import Sealed, personal_fields
from shared.telemetry import create_tracer_provider
from tests.e2e.conftest import RunningPlatform, eventually
from tests.support import tokens
from tests.support.infra import kafka_client, kafka_login
from tests.support.privacy import opened, records_of
from tests.e2e.web.support import SCREENS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def victoria(platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """VictoriaMetrics scraping the five services every second while the journeys of this module run; its URL."""
    server = LocalVictoria(tmp_path_factory.mktemp("victoria"))
    try:
        yield server.start(platform.urls, scrape_interval="1s")
    finally:
        server.stop()


async def test_an_application_goes_from_submission_to_the_counsellors_alert(platform: RunningPlatform, victoria: str) -> None:
    today = datetime.now(UTC).date()
    people = await Credentials.sign_in(platform.identity, counsellor="c-girard")
    counsellor = people.as_counsellor()
    async with httpx.AsyncClient(timeout=30) as client:
        journey = await walk(client, platform.urls, today=today, credentials=people, application=sample_application(1))

        async def intake_knows_the_decision() -> dict | None:
            file = (await client.get(f"{platform.urls['intake']}/applications/{journey.application_id}", headers=counsellor)).json()
            return file if file["status"] == "approved" else None

        # Intake learns the bank's decision from the events, on its own consumer: not necessarily before the alert.
        file = await eventually(intake_knows_the_decision, what="intake to record the bank's approval")
        assert file["household"] == {"adults": 1, "children_ages": []}
        assert file["checklist_complete"] is True
        assessment = (
            await client.get(f"{platform.urls['assessment']}/assessments/{journey.application_id}", headers=counsellor)
        ).json()
        assert assessment["status"] == "approved"
        assert assessment["monthly_instalment_cents"] == 8791  # 3,000 € over 36 months at 3.5 %
        assert Decimal(assessment["diagnostic"]["consumption_units"]) == 1  # one adult alone
        assert all(check["passed"] for check in assessment["checks"])
        loan = (await client.get(f"{platform.urls['servicing']}/loans/{journey.loan_id}", headers=counsellor)).json()
        assert loan["status"] == "active"
        assert len(loan["schedule"]) == 36
        assert sum(i["principal_cents"] for i in loan["schedule"]) == 300_000
        missed = {"cause_type": "fr.microcredit.payment.missed.v1"}
        alerts = (await client.get(f"{platform.urls['notifications']}/alerts", params=missed, headers=counsellor)).json()
        assert [a["loan_id"] for a in alerts] == [journey.loan_id]
        assert alerts[0]["message"].startswith("Échéance n° 1 du ")
        assert alerts[0]["severity"] == "warning"
        # The counsellor also heard of the bank's approval and of the disbursement, once each.
        everything = (await client.get(f"{platform.urls['notifications']}/alerts", headers=counsellor)).json()
        assert sorted(a["cause_type"] for a in everything) == [
            "fr.microcredit.loan.approved.v1", "fr.microcredit.loan.disbursed.v1", "fr.microcredit.payment.missed.v1"
        ]

        # The close of business run again for the same date finds nothing new and raises no second alert.
        first_due = (today + timedelta(days=30)).isoformat()
        again = await client.post(
            f"{platform.urls['servicing']}/close-of-business", json={"business_date": first_due}, headers=people.as_ops()
        )
        assert again.json()["missed_instalments"] == 0
        alerts = (await client.get(f"{platform.urls['notifications']}/alerts", params=missed, headers=counsellor)).json()
        assert len(alerts) == 1


async def test_one_trace_spans_the_submission_every_kafka_hop_and_the_alert(platform: RunningPlatform, browser: Browser) -> None:
    provider = create_tracer_provider("e2e-client", environ=tracing_env(platform.zipkin))
    with provider.get_tracer("e2e").start_as_current_span("counsellor journey") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        headers: dict[str, str] = {}
        propagate.inject(headers)
        async with httpx.AsyncClient(timeout=30) as client:
            await walk(
                client,
                platform.urls,
                today=date.today(),
                credentials=await Credentials.sign_in(platform.identity, counsellor="c-roux"),
                application=sample_application(2),
                headers=headers,
            )
    provider.shutdown()

    def hops() -> set[tuple[str, str, str]]:
        # Asked of Zipkin's own query API (it keeps names in lower case).
        return {
            (s["service"], s["kind"], s["name"])
            for s in zipkin_records(fetch_trace(platform.zipkin, trace_id))
            if s["kind"] in ("SERVER", "PRODUCER", "CONSUMER")
        }

    expected = {
        ("intake", "SERVER", "post /applications/{application_id}/submission"),
        ("intake", "PRODUCER", "microcredit.applications.v1 publish"),
        ("assessment", "CONSUMER", "microcredit.applications.v1 process"),
        ("assessment", "PRODUCER", "microcredit.applications.v1 publish"),
        ("servicing", "CONSUMER", "microcredit.applications.v1 process"),
        ("servicing", "PRODUCER", "microcredit.loans.v1 publish"),
        ("notifications", "CONSUMER", "microcredit.loans.v1 process"),
        ("notifications", "PRODUCER", "microcredit.alerts.v1 publish"),
    }

    # Spans leave each process in batches every half second; a loaded machine takes longer.
    deadline = asyncio.get_running_loop().time() + 60
    while missing := expected - hops():
        assert asyncio.get_running_loop().time() < deadline, f"trace {trace_id}: Zipkin never got {sorted(missing)}"
        await asyncio.sleep(0.5)
    alert_publish = [
        s for s in zipkin_records(fetch_trace(platform.zipkin, trace_id))
        if s["service"] == "notifications" and s["name"] == "microcredit.alerts.v1 publish"
    ]
    # The relay makes one producer span per topic and trace for each batch it sends: the three alerts
    # of the journey (approval, disbursement, missed payment) take one to three publish spans.
    assert 1 <= len(alert_publish) <= 3

    # What ops see in Zipkin's own UI: the journey, service after service.
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{platform.zipkin}/zipkin/traces/{trace_id}")
    # Zipkin's page draws the trace once it has fetched it: the services' names appear in its text.
    await page.wait_for_function("document.body.innerText.includes('notifications')", timeout=60_000)
    assert "counsellor journey" in await page.inner_text("body")
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "zipkin-trace-parcours.png"))
    await context.close()


async def test_the_flow_dashboard_draws_the_events_of_the_journeys(platform: RunningPlatform, victoria: str, browser: Browser) -> None:
    async def applied() -> bool:
        async with httpx.AsyncClient(base_url=victoria, timeout=5) as api:
            query = {"query": 'sum(rate(microcredit_event_latency_seconds_count{type="fr.microcredit.application.submitted.v1"}[1m]))'}
            result = (await api.get("/api/v1/query", params=query)).json()["data"]["result"]
        return bool(result) and float(result[0]["value"][1]) > 0

    await eventually(applied, what="the journeys' events in VictoriaMetrics")
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 1100})
    page = await context.new_page()
    await page.goto(f"{victoria}/vmui/#/dashboards?g0.range_input=2m&g0.relative_time=last_2m")
    await page.get_by_text("Events applied per second, per type").first.wait_for()
    # Drawn: the legend names the event types the journeys applied, and no panel is still loading.
    await page.get_by_text("fr.microcredit.application.submitted.v1").first.wait_for()
    await page.locator(".vm-spinner").first.wait_for(state="detached")
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "tableau-de-bord-flux.png"), full_page=True)
    await context.close()


async def test_a_person_is_refused_erasure_while_the_loan_runs_then_erased_from_every_service(platform: RunningPlatform) -> None:
    today = datetime.now(UTC).date()
    people = await Credentials.sign_in(platform.identity, counsellor="c-girard")
    application = sample_application(3)
    # A name no other journey of the module uses: after the erasure, no row of any service may carry it.
    application["applicant"] = {**application["applicant"], "first_name": "Solène", "last_name": "Kerbrat"}
    dpo = await platform.bearer(tokens.dpo())
    async with httpx.AsyncClient(timeout=30) as client:
        journey = await walk(
            client, platform.urls, today=today, credentials=people, application=application, close_of_business=False
        )
        subject = f"{platform.urls['privacy']}/v1/subjects/{journey.application_id}"

        async def ledger_says(status: str) -> dict[str, Any] | None:
            found = await client.get(subject, headers=dpo)
            return found.json() if found.status_code == 200 and found.json()["status"] == status else None

        await eventually(lambda: ledger_says("active"), what="the privacy ledger to learn the disbursement")
        refused = await client.post(f"{subject}/erasure", headers=dpo)
        assert refused.status_code == 409, refused.text
        assert (refused.json()["rule"], refused.json()["legal_reason"][:22]) == ("active-loan", "Tant que le prêt court")

        loan_url = f"{platform.urls['servicing']}/loans/{journey.loan_id}"
        loan = (await client.get(loan_url, headers=people.as_counsellor())).json()
        paid = await client.post(f"{loan_url}/payments", headers=people.bank_headers, json={
            "bank_reference": f"SOLDE-{journey.loan_id[:8]}", "amount_cents": loan["principal_outstanding_cents"],
            "received_on": today.isoformat(),
        })
        assert paid.status_code == 201, paid.text
        await eventually(lambda: ledger_says("closed"), what="the privacy ledger to learn the closure")
        done = await client.post(f"{subject}/erasure", headers=dpo)
        assert done.status_code == 200, done.text
        assert (done.json()["erasure"]["kind"], done.json()["erasure"]["rule"]) == ("anonymise", "request")

    async def nobody_names_her() -> bool:
        conn = await asyncpg.connect(platform.dsn)
        try:
            tables = await conn.fetch(
                "select table_schema || '.' || table_name as t from information_schema.tables"
                " where table_type = 'BASE TABLE' and table_schema = any($1::text[])", [*SERVICES, "keyring"],
            )
            counts = [await conn.fetchval(f"select count(*) from {r['t']} x where strpos(x::text, 'Kerbrat') > 0") for r in tables]
            return sum(counts) == 0
        finally:
            await conn.close()

    # person.erased goes over Kafka to intake, assessment, servicing and notifications, each with its own principal.
    await eventually(nobody_names_her, what="every service to erase Solène Kerbrat")
    # On the applications topic, her file's events were sealed from the start; now nobody can open them.
    records = await records_of(platform.kafka, Topics.APPLICATIONS, journey.application_id.encode())
    assert records and [r for r in records if b"Kerbrat" in r or "Solène".encode() in r] == []
    for event in await opened(platform.dsn, [parse_event(r) for r in records]):
        if fields := personal_fields(type(event)):
            assert all(getattr(event.data, f) is None or isinstance(getattr(event.data, f), Sealed) for f in fields)


# The service groups of the platform, as the replicas' consumers join them (client id = the service's name).
async def _groups(kafka: str) -> dict[str, list[set[tuple[str, int]]]]:
    """Each consumer group of the five services that is not rebalancing: the partitions each of its members holds."""
    admin = AIOKafkaAdminClient(**kafka_client(kafka))
    await admin.start()
    try:
        names = [name for name, _ in await admin.list_consumer_groups()]
        found: dict[str, list[set[tuple[str, int]]]] = {}
        for name in names:
            # One group at a time: aiokafka cannot decode some answers about empty groups of Kafka 4.
            (response,) = await admin.describe_consumer_groups([name])
            for _error, group, state, _type, _protocol, members in response.groups:
                if state == "Stable" and members and all(client_id in SERVICES for _id, client_id, *_ in members):
                    found[group] = [
                        {(topic, p) for topic, partitions in ConsumerProtocolMemberAssignment.decode(m[4]).assignment for p in partitions}
                        for m in members
                    ]
        return found
    finally:
        await admin.close()


async def test_two_replicas_of_each_service_lose_one_each_mid_way_and_every_file_ends_approved_once(
    platform: RunningPlatform, db: asyncpg.Connection, tmp_path: Path
) -> None:
    # A second replica of each service beside the platform's (whose consumers, as every e2e platform's, give up a
    # dead member's partitions after 6 s, the broker's minimum, instead of 10: QUICK_FAILOVER).
    extras = {
        name: ServiceProcess(name, port, proc.run_dir, replica=2, env={
            **platform.base_env, **kafka_env(kafka_login(platform.kafka, name)),
        })
        for (name, proc), port in zip(platform.processes.items(), find_free_ports(len(platform.processes)))
    }
    proxy = LocalHaproxy(tmp_path)
    relays = """select count(*) from pg_locks l join pg_stat_activity a using (pid)
                where l.locktype = 'advisory' and l.granted and a.backend_start < $1 and a.datname = current_database()
                  and l.objid = (hashtext('outbox-relay:' || s.name)::bigint & 4294967295)::oid"""
    extras_started = await db.fetchval("select clock_timestamp()")
    try:
        for proc in extras.values():
            proc.start()
        for proc in extras.values():
            await asyncio.to_thread(proc.wait_ready)
        fronted = await asyncio.to_thread(proxy.start, {
            name: (port, [platform.processes[name].url, extras[name].url])
            for name, port in zip(SERVICES, find_free_ports(len(SERVICES)))
        })

        async def shared_by_two() -> dict[str, list[set[tuple[str, int]]]] | None:
            groups = await _groups(platform.kafka)
            ok = groups and all(len(members) == 2 and all(members) for members in groups.values())
            return groups if ok else None

        before = await eventually(shared_by_two, timeout=60, what="the second replicas to get a share of each group's partitions")
        assert {"intake", "assessment", "servicing", "notifications", "directory"} <= set(before)
        inbox = """select (select count(*) from assessment.inbox where event_type = 'fr.microcredit.application.submitted.v1'),
                          (select count(*) from servicing.inbox where event_type = 'fr.microcredit.loan.approved.v1'),
                          (select count(*) from notifications.inbox where event_type = 'fr.microcredit.loan.disbursed.v1')"""
        inbox_before = await db.fetchrow(inbox)
        # The active outbox relay of each schema is one of the platform's first replicas (its lock, on a connection
        # opened before the second replicas started): the kill below takes every active relay down.
        held = await db.fetchval(
            f"select count(*) from unnest($2::text[]) as s(name) where ({relays}) = 1", extras_started, list(SERVICES)
        )
        assert held == len(SERVICES)

        people = await Credentials.sign_in(platform.identity, counsellor="c-replicas")
        today = date.today()
        half = 6
        async with httpx.AsyncClient(timeout=60) as client:
            async def submit(n: int) -> str:
                return await submit_file(client, fronted, credentials=people, application=sample_application(n))

            first = await asyncio.gather(*(submit(n) for n in range(half)))
            # Mid-way: the first files' events are on their way through the services when the platform's own
            # replicas (those that started first: they hold the outbox relays' locks) die as in a crash.
            for name in SERVICES:
                platform.processes[name].kill()
                platform.processes[name] = extras[name]  # the module's teardown stops the survivors
            second = await asyncio.gather(*(submit(n) for n in range(half, 2 * half)))
            journeys = await asyncio.gather(*(
                walk(client, fronted, today=today, credentials=people, submitted=app_id, close_of_business=False)
                for app_id in [*first, *second]
            ))

            async def everything_approved() -> bool:
                files = [(await client.get(f"{fronted['intake']}/applications/{j.application_id}", headers=people.as_counsellor())).json()
                         for j in journeys]
                return all(file["status"] == "approved" for file in files)

            await eventually(everything_approved, timeout=60, what="intake to record every bank approval")
            for journey in journeys:
                loan = (await client.get(f"{fronted['servicing']}/loans/{journey.loan_id}", headers=people.as_counsellor())).json()
                assert loan["status"] == "active"
                assert len(loan["schedule"]) == 36

        # Nothing applied twice: one submission, one approval, one disbursement received per file; one alert per cause.
        after = await db.fetchrow(inbox)
        assert [a - b for a, b in zip(after, inbox_before)] == [2 * half] * 3
        alerts = await db.fetch(
            "select cause_type, audience, count(*) as n from notifications.alerts"
            " where application_id = any($1::uuid[]) or loan_id = any($2::uuid[]) group by cause_type, audience",
            [j.application_id for j in journeys], [j.loan_id for j in journeys],
        )
        counted = {(a["cause_type"], a["audience"]): a["n"] for a in alerts}
        assert counted[("fr.microcredit.loan.approved.v1", "counsellor")] == 2 * half
        assert counted[("fr.microcredit.loan.disbursed.v1", "counsellor")] == 2 * half
        assert set(counted.values()) == {2 * half}
        # Every event written is published: the survivors' relays took over the dead ones'.
        unpublished = " + ".join(f"(select count(*) from {schema}.outbox)" for schema in SERVICES)

        async def outboxes_empty() -> bool:
            return await db.fetchval(f"select {unpublished}") == 0

        await eventually(outboxes_empty, what="the survivors' relays to publish every outbox row")

        # The partitions of each group moved to its survivor, once the group has settled.
        async def moved() -> bool:
            groups = await _groups(platform.kafka)
            return all(groups.get(group) == [shares[0] | shares[1]] for group, shares in before.items())

        await eventually(moved, timeout=60, what="each group's survivor to hold every partition its two members shared")
    finally:
        proxy.stop()
        for proc in extras.values():
            if platform.processes.get(proc.name) is not proc:
                proc.stop()


async def partition_count(kafka: str, topic: str) -> int:
    """How many partitions `topic` has (it must exist)."""
    admin = AIOKafkaAdminClient(**kafka_client(kafka))
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert not described["error_code"], described
    return len(described["partitions"])


async def read_topic(
    kafka: str, topic: str, *, bank: str, group_id: str | None = None, until: Callable[[list[Any]], bool] | None = None
) -> list[Any]:
    """What a partner's plain aiokafka consumer reads on `topic` from its start: until `until` says enough (under its
    own consumer group), or everything there is now (no group)."""
    consumer = AIOKafkaConsumer(
        **kafka_client(kafka, bank_principal(bank)), group_id=group_id, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        if until is None:
            partitions = [TopicPartition(topic, p) for p in range(await partition_count(kafka, topic))]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    records += batch
            return records
        consumer.subscribe([topic])
        deadline = asyncio.get_running_loop().time() + 60
        while not until(records):
            assert asyncio.get_running_loop().time() < deadline, f"{topic}: only {[r.headers for r in records]}"
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        await consumer.commit()
        return records
    finally:
        await consumer.stop()


async def test_a_bank_reads_its_files_events_on_its_own_feed_cut_to_the_allow_list_and_decides_on_its_own_topic(
    platform: RunningPlatform,
) -> None:
    today = datetime.now(UTC).date()
    people = await Credentials.sign_in(platform.identity, counsellor="c-fontaine")  # Crédit Mutuel Nord is the file's bank
    async with httpx.AsyncClient(timeout=30) as client:
        journey = await walk(client, platform.urls, today=today, credentials=people, application=sample_application(3))
    ours = {journey.application_id, journey.loan_id}
    expected = {"fr.microcredit.application.routed.v1", "fr.microcredit.loan.approved.v1", "fr.microcredit.loan.disbursed.v1",
                "fr.microcredit.payment.missed.v1"}

    def of_the_journey(records: list[Any]) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in records if r.key.decode() in ours]

    # Crédit Mutuel Nord's back office, a plain Kafka consumer in one of its own groups.
    feed = await read_topic(
        platform.kafka, PartnerTopics.feed("credit-mutuel-nord"), bank="credit-mutuel-nord", group_id="partner.credit-mutuel-nord.back-office",
        until=lambda records: expected <= {e["type"] for e in of_the_journey(records)},
    )

    events = of_the_journey(feed)
    assert all(r.key.decode() == json.loads(r.value)["subject"] for r in feed)
    assert all(dict(r.headers)["content-type"] == b"application/cloudevents+json" for r in feed)
    for event in events:
        allowed = PARTNER_FIELDS[EVENT_TYPES[event["type"]]]
        assert set(event["data"]) <= set(allowed), event["type"]
        assert event["dataschema"] == f"urn:microcredit:schema:partner:{event['type']}"
    approved = next(e for e in events if e["type"] == "fr.microcredit.loan.approved.v1")["data"]
    assert (approved["amount_cents"], approved["duration_months"], approved["bank_id"]) == (300_000, 36, "credit-mutuel-nord")
    text = b"".join(r.value for r in feed).decode()
    # No counsellor, birth date or address, of this journey or of the module's others.
    assert not [word for word in ("c-fontaine", "c-girard", "c-roux", "1988-06-14", "Lens") if word in text]
    # The other bank's feed has nothing of this file or its loan.
    other = await read_topic(platform.kafka, PartnerTopics.feed("la-banque-postale"), bank="la-banque-postale")
    assert [r for r in other if r.key.decode() in ours] == []

    # A second file routed to Crédit Mutuel Nord: La Banque Postale writes a decision in its name, refused; then the bank itself.
    file = await routed_file(platform, people, today, sample_application(4))
    impersonated = bank_decision_event(file, "credit-mutuel-nord", today)
    await platform.produce(
        PartnerTopics.decisions("la-banque-postale"), file.encode(), impersonated.to_bytes(), as_principal=bank_principal("la-banque-postale")
    )
    genuine = bank_decision_event(file, "credit-mutuel-nord", today)
    await platform.produce(
        PartnerTopics.decisions("credit-mutuel-nord"), file.encode(), genuine.to_bytes(), as_principal=bank_principal("credit-mutuel-nord")
    )

    async with httpx.AsyncClient(timeout=30) as client:

        async def decided() -> dict[str, Any] | None:
            found = (await client.get(f"{platform.urls['assessment']}/assessments/{file}", headers=people.as_counsellor())).json()
            return found if found["status"] == "approved" else None

        async def dead_lettered() -> list[dict[str, Any]]:
            listed = await client.get(
                f"{platform.urls['assessment']}/operations/dead-letters", params={"reason": "la-banque-postale"},
                headers=people.as_ops(),
            )
            return [d for d in listed.json() if d["event_id"] == str(impersonated.id)]

        assert (await eventually(decided, what="the bank's own decision to be applied"))["status"] == "approved"
        [dead] = await eventually(dead_lettered, what="the decision in another bank's name to be dead-lettered")
    assert dead["original_topic"] == PartnerTopics.decisions("la-banque-postale")
    assert dead["reason"].startswith("rejected fr.microcredit.bank.decision.v1: bank_id: the payload names bank 'credit-mutuel-nord'")


async def routed_file(platform: RunningPlatform, people: Credentials, today: date, application: dict[str, Any]) -> str:
    """A file submitted, its FICP consulted and routed to the counsellor's partner bank with a favourable opinion."""
    counsellor = people.as_counsellor()
    urls = platform.urls
    async with httpx.AsyncClient(timeout=30) as client:
        draft = (await client.post(f"{urls['intake']}/applications", json=application, headers=counsellor)).json()
        file = draft["id"]
        assert (await client.post(f"{urls['intake']}/applications/{file}/submission", json={}, headers=counsellor)).status_code == 200

        async def opened() -> bool:
            return (await client.get(f"{urls['assessment']}/assessments/{file}", headers=counsellor)).status_code == 200

        await eventually(opened, what="assessment to open the file")
        ficp = {"consulted_on": today.isoformat(), "result": "not_registered", "reference": f"FICP-{today:%Y%m%d}-{file[:8]}"}
        assert (await client.post(f"{urls['assessment']}/assessments/{file}/ficp", json=ficp, headers=counsellor)).status_code == 200
        outcome = {"outcome": "favourable", "opinion": "Projet cohérent, budget tenu.", "bank_id": people.bank,
                   "amount_cents": 300_000, "duration_months": 36, "annual_rate": "0.035"}
        routed = await client.post(f"{urls['assessment']}/assessments/{file}/outcome", json=outcome, headers=counsellor)
        assert routed.status_code == 200, routed.text
    return file


def bank_decision_event(file: str, bank_id: str, today: date) -> BankDecision:
    """An approval as a bank's system writes it on a decisions topic."""
    return new_event(
        BankDecision, source=f"/banks/{bank_id}", subject=file, time=datetime.now(UTC),
        data=BankDecisionData(
            application_id=UUID(file), bank_id=bank_id, decision="approve", amount_cents=300_000, annual_rate=Decimal("0.035"),
            duration_months=36, first_due_date=today + timedelta(days=30),
        ),
    )
