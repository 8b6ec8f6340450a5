"""The person's rights and the retention rules across the services: erasure refused while the loan runs, then done.

Nadia Benali's file goes through intake, assessment and servicing (each in this process, on its own schema of one
database, sharing the platform's keyring); the events each writes to its outbox are handed to the services that
read them, as the relay and Kafka would. The privacy service keeps its ledger from them.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from services.privacy import usecases
from services.servicing.domain import loan_id_for
from shared.clock import FixedClock
from shared.consumer import Record
from shared.events import (
    ApplicationSubmitted, ApplicationUpdated, ApplicationWithdrawn, Envelope, PersonErased, Topics, new_event, parse_event,
)
from shared.events import ApplicationUpdatedData, ApplicationWithdrawnData
from shared.privacy.keyring import new_kek
from shared.privacy.retention import load_rules
from tests.integration.conftest import NOW, TODAY, RunningService, application_submitted, payment_missed, run_service
from tests.support import notifications as notifications_support
from tests.support import tokens
from tests.support.assessment import APPROVAL, BANK, FICP_CLEAR
from tests.support.intake import complete_file
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

KEK = base64.b64encode(new_kek()).decode()
DPO = bearer(tokens.dpo())
COUNSELLOR = bearer(tokens.counsellor())
CMN = bearer(tokens.bank(BANK))
# What the file said of Nadia Benali: her name, birth date, address, her project's description and supplier.
HER = ("Benali", "1988-06-14", "Zola", "Douvrin", "Garage Dupont")
# Who reads what (tests/unit/test_kafka_security.py checks the real subscriptions): the streams each service is handed.
READERS = {
    "intake": ("assessment", "notifications", "privacy"),
    "assessment": ("intake", "servicing", "notifications", "privacy"),
    "servicing": ("notifications", "privacy"),
    "privacy": ("intake", "assessment", "servicing", "notifications"),
    "notifications": (),  # its alerts' events and the banks' feeds: no service here reads them
}


@pytest.fixture
async def platform(database: str) -> AsyncIterator[dict[str, RunningService]]:
    """The five services that hold something about a file, on one database and one clock, the privacy service given the KEK."""
    clock = FixedClock(NOW)
    async with AsyncExitStack() as stack:
        started = {
            name: await stack.enter_async_context(
                run_service(name, database, clock=clock, **({"privacy_kek": KEK} if name == "privacy" else {}))
            )
            for name in ("intake", "assessment", "servicing", "notifications", "privacy")
        }
        yield started


def at(clock: FixedClock, principal: Any) -> dict[str, str]:
    """The caller's Authorization header, its token issued at the clock's instant (years after the journey)."""
    return {"Authorization": f"Bearer {tokens.access_token(principal, now=clock.now())}"}


async def forward(services: dict[str, RunningService], source: str) -> list[Envelope[Any]]:
    """Hand what `source` wrote to its outbox to the services that read it, as the relay and Kafka would."""
    rows = await services[source].fetch("delete from outbox returning id, payload")
    if not READERS[source]:
        return []
    events = [parse_event(bytes(r["payload"])) for r in sorted(rows, key=lambda r: r["id"])]
    for event in events:
        for reader in READERS[source]:
            await services[reader].deliver(event)
    return events


async def nadia_with_a_running_loan(services: dict[str, RunningService]) -> tuple[UUID, str]:
    """Nadia's file submitted, assessed favourable, approved by the bank, her loan disbursed: (application, loan)."""
    intake, assessment, servicing = services["intake"], services["assessment"], services["servicing"]
    file = complete_file(resources={"salary": 180_000, "family_allowances": 14_800})  # enough left to live on
    # Sent with an idempotency key, as the workspace does: intake keeps the answer (her file) to replay it.
    draft = await intake.http.post("/applications", json=file, headers={**COUNSELLOR, "Idempotency-Key": f'"{uuid4()}"'})
    assert draft.status_code == 201, draft.text
    application_id = UUID(draft.json()["id"])
    submitted = await intake.http.post(f"/applications/{application_id}/submission", json={}, headers=COUNSELLOR)
    assert submitted.status_code == 200, submitted.text
    await forward(services, "intake")
    assert (await assessment.http.post(f"/assessments/{application_id}/ficp", json=FICP_CLEAR, headers=COUNSELLOR)).status_code == 200
    outcome = {
        "outcome": "favourable", "bank_id": BANK, "amount_cents": 300_000, "duration_months": 36, "annual_rate": "0.035",
        "opinion": "Nadia Benali : CDI de nuit à Douvrin, aucun transport en commun ; budget tenu.",
    }
    assessed = await assessment.http.post(f"/assessments/{application_id}/outcome", json=outcome, headers=COUNSELLOR)
    assert assessed.status_code == 200, assessed.text
    decided = await assessment.http.post(f"/bank/files/{application_id}/decision", json=APPROVAL, headers=CMN)
    assert decided.status_code == 200, decided.text
    await forward(services, "assessment")
    loan_id = str(loan_id_for(application_id))
    disbursed = await servicing.http.post(
        f"/loans/{loan_id}/disbursement", json={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"},
        headers=CMN,
    )
    assert disbursed.status_code == 200, disbursed.text
    await forward(services, "servicing")
    return application_id, loan_id


async def rows_naming_her(dsn: str) -> dict[str, int]:
    """Every table of every service's schema, and how many of its rows still say something of Nadia."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
            " and table_schema in ('intake', 'assessment', 'servicing', 'notifications', 'privacy', 'keyring')"
        )
        found = {}
        for t in tables:
            name = f"{t['table_schema']}.{t['table_name']}"
            binary = await conn.fetch(
                "select column_name from information_schema.columns where table_schema = $1 and table_name = $2"
                " and data_type = 'bytea'", t["table_schema"], t["table_name"],
            )
            where = " or ".join(
                [f"strpos(lower(x::text), lower('{marker}')) > 0" for marker in HER]
                # a bytea column reads as hex in the row's text: its bytes are searched for the marker's
                + [f"position(convert_to('{marker}', 'UTF8') in x.{c['column_name']}) > 0" for marker in HER for c in binary]
            )
            count = await conn.fetchval(f"select count(*) from {name} x where {where}")
            if count:
                found[name] = count
        return found
    finally:
        await conn.close()


async def figures(services: dict[str, RunningService], loan_id: str, clock: FixedClock) -> tuple[Any, Any]:
    """The funnel of the association for the month of the journey, and the loan as the portfolio counts it."""
    funnel = await services["intake"].http.get(
        "/funnel", params={"from": TODAY.replace(day=1).isoformat(), "to": TODAY.isoformat()},
        headers=at(clock, tokens.supervisor()),
    )
    assert funnel.status_code == 200, funnel.text
    loan = (await services["servicing"].http.get(f"/loans/{loan_id}", headers=at(clock, tokens.counsellor()))).json()
    return funnel.json(), {k: v for k, v in loan.items() if k != "payee"}


async def test_a_restricted_file_cannot_be_changed_until_the_restriction_is_lifted(platform: dict[str, RunningService]) -> None:
    intake, privacy = platform["intake"], platform["privacy"]
    draft = await intake.http.post("/applications", json=complete_file(), headers=COUNSELLOR)
    application_id = draft.json()["id"]
    assert (await intake.http.post(f"/applications/{application_id}/submission", json={}, headers=COUNSELLOR)).status_code == 200
    await forward(platform, "intake")
    change = {"amount_cents": 250_000}

    restricted = await privacy.http.put(f"/v1/subjects/{application_id}/restriction", headers=DPO)
    again = await privacy.http.put(f"/v1/subjects/{application_id}/restriction", headers=DPO)
    told = await forward(platform, "privacy")

    assert (restricted.json()["restricted"], again.status_code) == (True, 200)
    assert [(e.type, e.data.restricted) for e in told] == [("fr.microcredit.person.restricted.v1", True)]  # once
    refused = await intake.http.patch(f"/applications/{application_id}", json=change, headers=COUNSELLOR)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["rule"] == "restricted"
    assert "limitation du traitement" in refused.json()["detail"]
    lifted = await privacy.http.delete(f"/v1/subjects/{application_id}/restriction", headers=DPO)
    await forward(platform, "privacy")
    assert lifted.json()["restricted"] is False
    assert (await intake.http.patch(f"/applications/{application_id}", json=change, headers=COUNSELLOR)).status_code == 200


async def test_erasure_is_refused_while_the_loan_runs_and_done_by_the_retention_after_its_closure(
    platform: dict[str, RunningService], database: str,
) -> None:
    privacy, servicing = platform["privacy"], platform["servicing"]
    application_id, loan_id = await nadia_with_a_running_loan(platform)

    refused = await privacy.http.post(f"/v1/subjects/{application_id}/erasure", headers=DPO)

    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["rule"] == "active-loan"
    assert refused.json()["legal_reason"].startswith("Tant que le prêt court")
    ledger = (await privacy.http.get(f"/v1/subjects/{application_id}", headers=DPO)).json()
    assert (ledger["status"], ledger["rule"]["id"], ledger["erasable"]) == ("active", "active-loan", False)
    assert await privacy.fetch("select * from outbox") == []

    # She repays it all at once: the loan closes today; five years later the retention job anonymises her.
    paid = await servicing.http.post(
        f"/loans/{loan_id}/payments", headers=CMN,
        json={"bank_reference": "VIR-2026-03-02-SOLDE", "amount_cents": 300_000, "received_on": TODAY.isoformat()},
    )
    assert paid.status_code == 201, paid.text
    await forward(platform, "servicing")
    ledger = (await privacy.http.get(f"/v1/subjects/{application_id}", headers=DPO)).json()
    assert (ledger["status"], ledger["rule"]["id"], ledger["retention_ends_on"]) == ("closed", "loan-after-closure", "2031-03-02")
    before = await figures(platform, loan_id, privacy.clock)
    # The journey left her name, her project and her supplier in every service that holds the file.
    assert {"intake.applications", "intake.idempotency_keys", "assessment.assessments", "notifications.files"} <= set(
        await rows_naming_her(database)
    )

    privacy.clock.advance(timedelta(days=5 * 366))
    first = await privacy.http.post("/operations/timers", json={}, headers=at(privacy.clock, tokens.ops()))
    erased = await forward(platform, "privacy")
    await forward(platform, "notifications")  # what the relay would have published and deleted meanwhile

    assert first.json()["anonymised"] == 1
    assert [(e.type, e.data.subject_id, e.data.kind, e.data.rule) for e in erased] == [
        (PersonErased.event_type(), application_id, "anonymise", "loan-after-closure")
    ]
    assert await rows_naming_her(database) == {}
    key = await privacy.fetch("select wrapped, destroyed_at from keyring.data_keys where subject_id = $1", application_id)
    assert [(k["wrapped"], k["destroyed_at"]) for k in key] == [(None, privacy.clock.now())]
    assert await figures(platform, loan_id, privacy.clock) == before
    counsellor = at(privacy.clock, tokens.counsellor())
    file = (await platform["intake"].http.get(f"/applications/{application_id}", headers=counsellor)).json()
    assert (file["applicant"], file["household"], file["project"]["description"]) == (
        {"first_name": "Personne", "last_name": "effacée", "birth_date": None, "contact": None, "address": None, "over_indebted": False},
        None, "Effacé (RGPD)",
    )
    assessed = (await platform["assessment"].http.get(f"/assessments/{application_id}", headers=counsellor)).json()
    assert (assessed["applicant_name"], assessed["opinion"], assessed["status"]) == (None, "Effacé (RGPD)", "approved")
    dpo = at(privacy.clock, tokens.dpo())
    [run] = (await privacy.http.get("/v1/retention/runs", headers=dpo)).json()
    report = (await privacy.http.get(f"/v1/retention/runs/{run['run_date']}", headers=dpo)).json()
    assert [(s["subject_id"], s["kind"], s["rule"]) for s in report["subjects"]] == [
        (str(application_id), "anonymise", "loan-after-closure")
    ]

    # Run again (the same day, then the next): nothing is erased twice, no second event; the event replayed changes nothing.
    assert (await privacy.http.post("/operations/timers", json={}, headers=at(privacy.clock, tokens.ops()))).json()["anonymised"] == 1
    privacy.clock.advance(timedelta(days=1))
    assert (await privacy.http.post("/operations/timers", json={}, headers=at(privacy.clock, tokens.ops()))).json()["anonymised"] == 0
    assert await privacy.fetch("select * from outbox") == []
    for reader in READERS["privacy"]:
        await platform[reader].deliver(erased[0])
    assert await rows_naming_her(database) == {}
    edit = await platform["intake"].http.patch(
        f"/applications/{application_id}", json={"applicant": {"first_name": "Nadia", "last_name": "Benali"}},
        headers=at(privacy.clock, tokens.counsellor()),
    )
    assert edit.status_code == 409 and edit.json()["errors"][0]["rule"] == "erased"


def _withdrawn(application_id: UUID) -> ApplicationWithdrawn:
    data = ApplicationWithdrawnData(
        application_id=application_id, association_id="secours-catholique", region="hauts-de-france",
        counsellor_id="c-lefebvre", reason="Le garage a vendu la voiture.", withdrawn_by="c-lefebvre",
    )
    return new_event(ApplicationWithdrawn, source="/services/intake", subject=str(application_id), time=NOW, data=data)


async def test_one_batch_of_files_keeps_each_ledger_row_as_the_events_one_after_the_other_would(database: str) -> None:
    async with run_service("privacy", database, privacy_kek=KEK) as privacy:
        nadia, fatou, kevin = uuid4(), uuid4(), uuid4()
        later = application_submitted(nadia, association_id="restos-du-coeur", region="ile-de-france")
        fatou_submitted = application_submitted(fatou)
        older_update = new_event(
            ApplicationUpdated, source="/services/intake", subject=str(fatou), time=NOW - timedelta(hours=1),
            data=ApplicationUpdatedData(**fatou_submitted.data.model_dump(), changed_fields=["amount_cents"]),
        )
        # Nadia's file twice (the second an hour later, as another association would tell it), Fatou's file and an
        # older update of it, Kevin's file withdrawn then submitted again by a late redelivery: all in one batch.
        batch: list[Envelope[Any]] = [
            application_submitted(nadia), fatou_submitted, later.model_copy(update={"time": NOW + timedelta(hours=1)}),
            _withdrawn(kevin), application_submitted(kevin), older_update,
        ]
        records = [Record(Topics.APPLICATIONS, 0, n, e.subject.encode(), e.to_bytes(), {"ce-type": e.type})
                   for n, e in enumerate(batch)]
        consumer = next(c for c in privacy.app.state.ctx.consumers if c.group_id == "privacy")

        assert await consumer.apply_partition(records) == len(batch)

        rows = await privacy.fetch("select subject_id, association_id, region, status, last_activity_at from subjects")
        ledger = {r["subject_id"]: (r["association_id"], r["region"], r["status"], r["last_activity_at"]) for r in rows}
        assert ledger == {
            # The file keeps the association and region it was first submitted with; its activity moves forward only.
            nadia: ("secours-catholique", "hauts-de-france", "submitted", NOW + timedelta(hours=1)),
            fatou: ("secours-catholique", "hauts-de-france", "submitted", NOW),
            kevin: ("secours-catholique", "hauts-de-france", "withdrawn", NOW),  # a late submission does not undo it
        }


async def test_a_retention_run_interrupted_resumes_and_erases_each_file_once_holding_the_restricted_one(database: str) -> None:
    clock = FixedClock(NOW)
    async with run_service("privacy", database, clock=clock, privacy_kek=KEK) as privacy:
        files = sorted(uuid4() for _ in range(4))
        for file in files:
            submitted: ApplicationSubmitted = application_submitted(file)
            await privacy.deliver(submitted)
            await privacy.deliver(_withdrawn(file))
        restricted = await privacy.http.put(f"/v1/subjects/{files[3]}/restriction", headers=DPO)
        assert restricted.json()["restricted"] is True
        # Six months and a day after the withdrawal (and after 1 December 2026, when the rules came into force).
        clock.advance(timedelta(days=366 + 183))
        dpo, ops = at(clock, tokens.dpo()), at(clock, tokens.ops())
        ctx = privacy.app.state.ctx

        async def crash_after_the_first_chunk(number: int) -> None:
            raise RuntimeError(f"process killed after chunk {number}")

        with pytest.raises(RuntimeError):
            await usecases.retention_run(
                ctx.pool, ctx.settings.keyring(), load_rules(), run_date=clock.today(), now=clock.now(), chunk_size=2,
                after_chunk=crash_after_the_first_chunk,
            )
        [interrupted] = (await privacy.http.get("/v1/retention/runs", headers=dpo)).json()
        assert (interrupted["status"], interrupted["erased"]) == ("running", 2)

        resumed = await privacy.http.post("/operations/timers", json={}, headers=ops)

        assert (resumed.json()["erased"], resumed.json()["held"]) == (3, 1)
        [run] = (await privacy.http.get("/v1/retention/runs", headers=dpo)).json()
        assert (run["status"], run["passes"], run["reviewed"]) == ("finished", 2, 4)
        erased = "select payload from outbox where event_type = 'fr.microcredit.person.erased.v1' order by id"
        events = [parse_event(bytes(r["payload"])) for r in await privacy.fetch(erased)]
        assert sorted(e.data.subject_id for e in events) == files[:3]
        assert {(e.data.kind, e.data.rule) for e in events} == {("erase", "file-not-a-loan")}
        held = (await privacy.http.get(f"/v1/subjects/{files[3]}", headers=dpo)).json()
        assert (held["restricted"], held["erasure"]) == (True, None)


async def test_the_notification_log_is_erased_a_year_after_the_sending_and_the_resolution(
    monkeypatch: pytest.MonkeyPatch, database: str,
) -> None:
    clock = FixedClock(datetime(2027, 1, 4, 8, 30, tzinfo=UTC))  # the retention rules are in force
    with notifications_support.smtp_server() as smtp:
        notifications_support.configure(monkeypatch, smtp_port=smtp.port)
        async with run_service("notifications", database, clock=clock) as notifications:
            submitted = application_submitted()
            await notifications.deliver(submitted)
            await notifications.deliver(payment_missed(application_id=submitted.data.application_id))

            async def run(*timers: str) -> dict[str, Any]:
                response = await notifications.http.post("/operations/timers", json={"timers": list(timers)}, headers=at(clock, tokens.ops()))
                assert response.status_code == 200, response.text
                return response.json()  # type: ignore[no-any-return]

            assert (await run("emails"))["emails_sent"] == 1
            [alert] = (await notifications.http.get("/alerts", headers=at(clock, tokens.counsellor()))).json()
            note = {"note": "Appelée : l'échéance sera réglée vendredi."}
            resolved = await notifications.http.post(f"/alerts/{alert['id']}/resolution", json=note, headers=at(clock, tokens.counsellor()))
            assert resolved.status_code == 200, resolved.text

            clock.advance(timedelta(days=364))
            kept = await run("notification_log")
            clock.advance(timedelta(days=2))
            erased = await run("notification_log")
            again = await run("notification_log")

            fields = ("emails_erased", "alerts_erased")
            assert [tuple(r[f] for f in fields) for r in (kept, erased, again)] == [(0, 0), (1, 1), (0, 0)]
            assert await notifications.fetch("select id from email_deliveries") == []
            assert await notifications.fetch("select id from alerts") == []


async def test_a_draft_abandoned_six_months_is_erased_by_intake_and_still_counted_as_opened(database: str) -> None:
    clock = FixedClock(datetime(2027, 1, 4, 8, 30, tzinfo=UTC))  # the retention rules are in force
    async with run_service("intake", database, clock=clock) as intake:
        abandoned = (await intake.http.post("/applications", json=complete_file(), headers=at(clock, tokens.counsellor()))).json()["id"]
        kept = (await intake.http.post("/applications", json=complete_file(), headers=at(clock, tokens.counsellor()))).json()["id"]
        clock.advance(timedelta(days=40))
        edited = await intake.http.patch(f"/applications/{kept}", json={"amount_cents": 250_000}, headers=at(clock, tokens.counsellor()))
        assert edited.status_code == 200, edited.text
        opened = {"from": "2027-01-01", "to": "2027-01-31"}
        before = (await intake.http.get("/funnel", params=opened, headers=at(clock, tokens.supervisor()))).json()

        clock.advance(timedelta(days=183 - 40))  # 5 July 2027: six months and a day after the first draft's last change
        first = await intake.http.post("/operations/timers", json={}, headers=at(clock, tokens.ops()))
        second = await intake.http.post("/operations/timers", json={}, headers=at(clock, tokens.ops()))

        assert (first.json()["drafts_erased"], second.json()["drafts_erased"]) == (1, 0)
        counsellor = at(clock, tokens.counsellor())
        gone = (await intake.http.get(f"/applications/{abandoned}", headers=counsellor)).json()
        assert (gone["applicant"]["last_name"], gone["household"], gone["resources"]) == ("effacée", None, {})
        assert (await intake.http.get(f"/applications/{kept}", headers=counsellor)).json()["applicant"]["last_name"] == "Benali"
        assert (await intake.http.get("/funnel", params=opened, headers=at(clock, tokens.supervisor()))).json() == before
