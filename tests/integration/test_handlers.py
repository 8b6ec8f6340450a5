"""Kafka handlers with the in-memory broker: events apply once, poison goes to the dead-letter topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from datetime import UTC, date, datetime
from uuid import UUID, uuid4, uuid5

import anyio
import pytest

from services.notifications.alerts.domain import ALERT_ID_NAMESPACE
from services.servicing.domain import loan_id_for
from shared.consumer import Record
from shared.events import EVENT_TYPES, BankDecisionOverdue, CounsellorAlertRaised, Topics, new_event, parse_event
from shared.events import ApplicationUpdated, ApplicationUpdatedData, BankDecisionOverdueData
from shared.events.envelope import Envelope
from tests.integration.conftest import (
    RunningService,
    NOW,
    ServiceStarter,
    application_submitted,
    favourable_outcome,
    loan_approved,
    payment_missed,
)
from tests.support import directory
from tests.support import notifications as notifications_support
from tests.support import intake as intake_files
from tests.support.tokens import bearer, counsellor

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

pytestmark = pytest.mark.integration


async def inbox_rows(service: RunningService, event: Envelope[Any]) -> int:
    """How many times the service's consumer recorded `event` as applied."""
    rows = await service.fetch("select consumer from inbox where event_id = $1", event.id)
    return len(rows)


def with_data(event: Envelope[Any], **changes: Any) -> bytes:
    """The event's JSON with some payload fields overwritten, as a buggy producer would write it."""
    document = json.loads(event.to_bytes())
    document["data"].update(changes)
    return json.dumps(document).encode()


# --- assessment: application submitted ------------------------------------------------------------

COUNSELLOR = bearer(counsellor())


async def test_a_submitted_application_enters_the_review_queue_with_its_budget_diagnostic(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    submitted = application_submitted()

    await assessment.deliver(submitted)

    file = (await assessment.http.get(f"/assessments/{submitted.data.application_id}", headers=COUNSELLOR)).json()
    assert file["status"] == "pending_review"
    assert (file["requested_amount_cents"], file["requested_duration_months"]) == (300_000, 36)
    # 3,000 € over 36 months at the 3.5 % diagnostic rate: 87.91 €; 1,350 € − 820 € − 87.91 € = 442.09 € left.
    assert file["monthly_instalment_cents"] == 8_791
    assert file["remaining_after_instalment_cents"] == 44_209


async def test_a_fetch_is_applied_on_the_event_loop_without_a_worker_thread(
    start_service: ServiceStarter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastStream hands its message to a handler that asks for it through `Context`, which fast_depends resolves on a
    # worker thread: a thread hop for every fetch, most of what a lone event cost a group beyond its own work.
    assessment = await start_service("assessment")
    hops: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    submitted = application_submitted()

    await assessment.deliver(submitted)

    assert await inbox_rows(assessment, submitted) == 1
    assert hops == []


async def test_the_same_submission_delivered_twice_opens_the_file_once(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    submitted = application_submitted()
    await assessment.deliver(submitted)
    before = (await assessment.http.get(f"/assessments/{submitted.data.application_id}", headers=COUNSELLOR)).json()

    await assessment.deliver(submitted)

    assert (await assessment.http.get(f"/assessments/{submitted.data.application_id}", headers=COUNSELLOR)).json() == before
    assert await inbox_rows(assessment, submitted) == 1
    assert len(await assessment.fetch("select application_id from assessments")) == 1


async def test_one_batch_opens_each_file_once_with_its_own_associations_thresholds(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    # The Restos du Cœur's network asks 450 € per consumption unit; the Secours Catholique's, 300 €.
    await assessment.deliver(directory.network("restos-du-coeur-reseau", min_remaining_per_unit_cents=450_00))
    await assessment.deliver(directory.association("restos-du-coeur", network_id="restos-du-coeur-reseau"))
    # Nadia Benali keeps 442.09 € a month, one consumption unit: enough for the first, not for the second.
    secours, restos = application_submitted(), application_submitted(association_id="restos-du-coeur")
    replayed = application_submitted(secours.data.application_id, amount_cents=200_000)  # a new event id, same file
    missed = application_submitted()  # intake's update came first: assessment opened the file from it
    update = new_event(ApplicationUpdated, source="/services/intake", subject=missed.subject, time=NOW,
                       data=ApplicationUpdatedData(**missed.data.model_dump(), changed_fields=["amount_cents"]))
    late = application_submitted(missed.data.application_id, amount_cents=100_000)
    batch = [secours, restos, replayed, update, late]
    records = [Record(Topics.APPLICATIONS, 0, n, e.subject.encode(), e.to_bytes(), {"ce-type": e.type})
               for n, e in enumerate(batch)]
    consumer = next(c for c in assessment.app.state.ctx.consumers if c.group_id == "assessment")

    assert await consumer.apply_partition(records) == len(batch)

    rows = await assessment.fetch(
        "select application_id, association_id, requested_amount_cents, checks from assessments"
    )
    files = {r["application_id"]: r for r in rows}
    remaining = {f: {c["name"]: c["passed"] for c in json.loads(r["checks"])}["remaining_per_unit"] for f, r in files.items()}
    assert (len(rows), remaining[secours.data.application_id], remaining[restos.data.application_id]) == (3, True, False)
    assert files[secours.data.application_id]["requested_amount_cents"] == 300_000  # the replay opened nothing
    assert files[missed.data.application_id]["requested_amount_cents"] == 300_000  # nor did the late submission
    received = await assessment.fetch("select application_id from assessment_audit where action = 'file_received'")
    opened_once = [secours.data.application_id, restos.data.application_id, missed.data.application_id]
    assert sorted(r["application_id"] for r in received) == sorted(opened_once)


async def test_a_late_redelivery_does_not_reopen_a_file_the_counsellor_already_assessed(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    submitted = application_submitted()
    await assessment.deliver(submitted)
    ficp = {"consulted_on": "2026-03-02", "result": "not_registered"}
    assert (await assessment.http.post(f"/assessments/{submitted.data.application_id}/ficp", json=ficp, headers=COUNSELLOR)).status_code == 200
    assessed = await assessment.http.post(
        f"/assessments/{submitted.data.application_id}/outcome", json=favourable_outcome(), headers=COUNSELLOR
    )
    assert assessed.status_code == 200

    await assessment.deliver(submitted)

    file = (await assessment.http.get(f"/assessments/{submitted.data.application_id}", headers=COUNSELLOR)).json()
    assert file["status"] == "routed"
    assert file["bank_id"] == "credit-mutuel-nord"


async def test_an_event_for_another_consumer_is_skipped_not_dead_lettered(start_service: ServiceStarter) -> None:
    assessment = await start_service("assessment")
    approval = loan_approved()  # on the applications topic too, but servicing's business

    await assessment.deliver(approval)

    assert assessment.dead_letters == []
    assert await inbox_rows(assessment, approval) == 0
    assert (await assessment.http.get(f"/assessments/{approval.data.application_id}", headers=COUNSELLOR)).status_code == 404


# --- servicing: loan approved ---------------------------------------------------------------------


async def test_a_loan_approval_delivered_twice_opens_the_loan_and_its_schedule_once(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    approval = loan_approved()

    await servicing.deliver(approval)
    await servicing.deliver(approval)

    loans = (
        await servicing.http.get(
            "/loans", params={"application_id": str(approval.data.application_id)}, headers=bearer(counsellor())
        )
    ).json()
    assert [loan["id"] for loan in loans] == [str(loan_id_for(approval.data.application_id))]
    loan = loans[0]
    assert loan["status"] == "pending_disbursement"
    assert [i["number"] for i in loan["schedule"]] == list(range(1, 37))
    assert sum(i["principal_cents"] for i in loan["schedule"]) == 300_000
    assert loan["schedule"][0]["due_date"] == "2026-04-05"
    assert len(await servicing.fetch("select number from instalments")) == 36
    assert await inbox_rows(servicing, approval) == 1
    assert servicing.dead_letters == []


async def test_an_approval_republished_under_a_new_event_id_still_opens_a_single_loan(start_service: ServiceStarter) -> None:
    servicing = await start_service("servicing")
    approval = loan_approved()
    republished = approval.model_copy(update={"id": loan_approved().id})

    await servicing.deliver(approval)
    await servicing.deliver(republished)

    assert len(await servicing.fetch("select id from loans")) == 1
    assert len(await servicing.fetch("select number from instalments")) == 36


# --- notifications: payment missed ----------------------------------------------------------------


async def test_a_missed_payment_delivered_twice_raises_one_alert_and_one_alert_raised_event(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    missed = payment_missed()

    await notifications.deliver(missed)
    await notifications.deliver(missed)

    alerts = (await notifications.http.get("/alerts", headers=bearer(counsellor()))).json()
    assert len(alerts) == 1
    assert alerts[0]["loan_id"] == str(missed.data.loan_id)
    assert alerts[0]["message"].startswith("Échéance n° 1 du 05/04/2026 impayée")
    outbox = await notifications.fetch("select event_type, topic, key, payload from outbox")
    assert [(r["event_type"], r["topic"]) for r in outbox] == [("fr.microcredit.alert.raised.v1", Topics.ALERTS)]
    raised = parse_event(bytes(outbox[0]["payload"]))
    assert isinstance(raised, CounsellorAlertRaised)
    assert raised.data.cause_event_id == missed.id
    assert outbox[0]["key"] == str(raised.data.alert_id) == alerts[0]["id"]
    assert raised.data.alert_id == uuid5(ALERT_ID_NAMESPACE, str(missed.id))  # derived from the cause, not random
    assert notifications.dead_letters == []


async def test_a_file_left_without_bank_decision_alerts_its_counsellor_once(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    application_id = uuid4()
    overdue = new_event(
        BankDecisionOverdue,
        source="/services/assessment",
        subject=str(application_id),
        time=datetime(2026, 4, 3, 2, 0, tzinfo=UTC),
        data=BankDecisionOverdueData(
            association_id="secours-catholique", region="hauts-de-france", counsellor_id="c-lefebvre",
            application_id=application_id, bank_id="credit-mutuel-nord", routed_on=date(2026, 3, 4), days_waiting=30,
        ),
    )

    await notifications.deliver(overdue)
    await notifications.deliver(overdue)

    alerts = (await notifications.http.get("/alerts", headers=bearer(counsellor()))).json()
    assert [(a["application_id"], a["cause_type"]) for a in alerts] == [(str(application_id), overdue.type)]
    assert alerts[0]["message"] == (
        "Aucune décision de la banque credit-mutuel-nord depuis 30 jours (dossier transmis le 04/03/2026) : relancer la banque."
    )
    colleague = (await notifications.http.get("/alerts", headers=bearer(counsellor(sub="c-roux")))).json()
    assert colleague == []


async def test_one_batch_remembers_each_files_applicant_and_bank_as_the_events_one_after_the_other_would(
    start_service: ServiceStarter,
) -> None:
    notifications = await start_service("notifications")
    nadia, fatou = application_submitted(), application_submitted(applicant_name="Fatou Diallo")
    # Nadia's file submitted again under a new event id, her name as intake has it now, then routed to her bank.
    again = application_submitted(nadia.data.application_id, applicant_name="Nadia Benali-Martin")
    batch = [nadia, fatou, again, notifications_support.application_routed(nadia.data.application_id)]
    records = [Record(Topics.APPLICATIONS, 0, n, e.subject.encode(), e.to_bytes(), {"ce-type": e.type})
               for n, e in enumerate(batch)]
    consumer = next(c for c in notifications.app.state.ctx.consumers if c.group_id == "notifications")

    assert await consumer.apply_partition(records) == len(batch)

    rows = await notifications.fetch("select application_id, applicant_name, bank_id from files")
    assert {r["application_id"]: (r["applicant_name"], r["bank_id"]) for r in rows} == {
        nadia.data.application_id: ("Nadia Benali-Martin", "credit-mutuel-nord"),
        fatou.data.application_id: ("Fatou Diallo", None),
    }
    assert notifications.dead_letters == []


NOTIFICATIONS_READS = sorted(
    t for t in EVENT_TYPES if t.startswith(("fr.microcredit.application.", "fr.microcredit.loan.", "fr.microcredit.payment.", "fr.microcredit.bank.decision.overdue"))
)


@pytest.mark.parametrize("event_type", NOTIFICATIONS_READS)
async def test_notifications_applies_each_event_it_reads_once_without_dead_letter(event_type: str, start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    sample = parse_event((GOLDEN / f"{event_type}.json").read_bytes())

    await notifications.deliver(sample)
    await notifications.deliver(sample)

    assert notifications.dead_letters == []
    assert await inbox_rows(notifications, sample) == 1
    alerts = await notifications.fetch("select cause_event_id from alerts")
    assert len(alerts) == len({r["cause_event_id"] for r in alerts}) <= 1


# --- intake: assessment's events ------------------------------------------------------------------


async def test_intake_learns_the_bank_decision_once_however_often_it_is_delivered(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    nadia = bearer(counsellor())
    application_id = (await intake.http.post("/applications", json=intake_files.complete_file(), headers=nadia)).json()["id"]
    assert (await intake.http.post(f"/applications/{application_id}/submission", json={}, headers=nadia)).status_code == 200
    approval = loan_approved(UUID(application_id))

    await intake.deliver(approval)
    await intake.deliver(approval)

    assert (await intake.http.get(f"/applications/{application_id}", headers=nadia)).json()["status"] == "approved"
    assert await inbox_rows(intake, approval) == 1
    trail = await intake.fetch("select action from audit_log where application_id = $1 order by id", UUID(application_id))
    assert [r["action"] for r in trail] == ["opened", "submitted", "approved"]
    assert intake.dead_letters == []


async def test_intake_skips_its_own_events_read_back_from_the_topic(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    submitted = application_submitted()

    await intake.deliver(submitted)

    assert intake.dead_letters == []
    assert await inbox_rows(intake, submitted) == 0


# --- poison messages ------------------------------------------------------------------------------

VALID = application_submitted()
POISON: dict[str, tuple[bytes, str]] = {
    "not JSON": (b"Nadia Benali;vehicle;3000;36", "invalid envelope"),
    "JSON without an envelope": (
        json.dumps({"applicant_name": "Nadia Benali", "amount_cents": 300_000}).encode(),
        "invalid envelope",
    ),
    "a negative amount": (with_data(VALID, amount_cents=-300_000), "amount_cents"),
}


@pytest.mark.parametrize("poison", POISON, ids=str)
async def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_next_event_is_still_applied(
    poison: str, start_service: ServiceStarter
) -> None:
    assessment = await start_service("assessment")
    body, reason = POISON[poison]
    behind = application_submitted(applicant_name="Fatou Diallo")

    await assessment.deliver_raw(body, topic=Topics.APPLICATIONS, key=b"dossier-poison")
    await assessment.deliver(behind)

    [dead] = assessment.dead_letters
    assert dead.body == body
    assert dead.key == b"dossier-poison"
    assert reason in dead.headers["dlq-reason"]
    assert dead.headers["dlq-original-topic"] == Topics.APPLICATIONS
    assert dead.headers["dlq-original-partition"].isdigit()
    assert dead.headers["dlq-original-offset"].isdigit()
    assert dead.headers["dlq-consumer-group"] == "assessment"
    applied = await assessment.http.get(f"/assessments/{behind.data.application_id}", headers=COUNSELLOR)
    assert applied.status_code == 200
    assert applied.json()["status"] == "pending_review"


INVALID_DATA = {
    "intake": (loan_approved(), {"annual_rate": "trois et demi pour cent"}, "annual_rate"),
    "servicing": (loan_approved(), {"duration_months": 0}, "duration_months"),
    "notifications": (payment_missed(), {"amount_unpaid_cents": -8_791}, "amount_unpaid_cents"),
    "assessment": (application_submitted(), {"monthly_charges_cents": "huit cent vingt euros"}, "monthly_charges_cents"),
}


@pytest.mark.parametrize("name", INVALID_DATA)
async def test_an_event_with_invalid_data_is_dead_lettered_naming_the_field(name: str, start_service: ServiceStarter) -> None:
    service = await start_service(name)
    event, changes, field = INVALID_DATA[name]

    await service.deliver_raw(with_data(event, **changes), topic=event.topic, key=event.subject.encode())

    [dead] = service.dead_letters
    assert field in dead.headers["dlq-reason"]
    assert event.type in dead.headers["dlq-reason"]
    assert dead.headers["dlq-original-topic"] == event.topic
    assert await inbox_rows(service, event) == 0
