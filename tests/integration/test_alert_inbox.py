"""The alert inbox over HTTP: who sees what, filters and pages, acknowledge, resolve, snooze, escalations and timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.events import ApplicationUpdated, Envelope, new_event, parse_event
from shared.events import ApplicationUpdatedData
from tests.integration.conftest import TODAY, RunningService, ServiceStarter, application_body, loan_approved, payment_missed
from tests.support import notifications as support
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

COUNSELLOR = bearer(tokens.counsellor())
COLLEAGUE = bearer(tokens.counsellor(sub="c-roux"))
SUPERVISOR = bearer(tokens.supervisor())
OPS = bearer(tokens.ops())
HOURS = timedelta(hours=1)


async def inbox(service: RunningService, who: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    """The caller's alerts."""
    response = await service.http.get("/alerts", params=query, headers=who)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def timers(service: RunningService, *names: str) -> dict[str, Any]:
    """Run the timers now, as ops would."""
    body = {"timers": list(names)} if names else {}
    response = await service.http.post("/operations/timers", json=body, headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def published(service: RunningService, event_type: str) -> list[Envelope[Any]]:
    """What the service wrote to its outbox, of one type."""
    rows = await service.fetch("select payload from outbox where event_type = $1 order by id", event_type)
    return [parse_event(bytes(r["payload"])) for r in rows]


async def act(service: RunningService, alert_id: str, action: str, who: dict[str, str], body: Any = None) -> Any:
    """POST an action on an alert."""
    return await service.http.post(f"/alerts/{alert_id}/{action}", json=body, headers=who)


def two_missed_in_a_row(loan_id: UUID | None = None) -> tuple[Envelope[Any], Envelope[Any]]:
    """Nadia Benali misses the April and May instalments."""
    loan_id = loan_id or uuid4()
    application_id = uuid4()
    first = payment_missed(loan_id, application_id=application_id)
    second = payment_missed(
        loan_id, application_id=application_id, instalment_number=2, due_date=TODAY.replace(month=5, day=5),
        business_date=TODAY.replace(month=5, day=6),
    )
    return first, second


# --- who sees what ---------------------------------------------------------------------------------


async def test_a_counsellor_sees_their_own_alerts_and_the_shared_queue_a_supervisor_all_the_associations(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    for owner in ({}, {"counsellor_id": "c-roux"}, {"counsellor_id": ""}, {"association_id": "restos-du-coeur", "counsellor_id": "c-petit"}):
        await notifications.deliver(payment_missed(**owner))

    mine = await inbox(notifications, COUNSELLOR)
    colleague = await inbox(notifications, COLLEAGUE)
    supervisor = await inbox(notifications, SUPERVISOR)

    assert sorted((a["audience"], a["counsellor_id"]) for a in mine) == [("association", ""), ("counsellor", "c-lefebvre")]
    assert sorted((a["audience"], a["counsellor_id"]) for a in colleague) == [("association", ""), ("counsellor", "c-roux")]
    assert len(supervisor) == 3
    assert {a["association_id"] for a in supervisor} == {"secours-catholique"}


async def test_the_inbox_filters_by_status_severity_loan_and_file_and_pages(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    events = [payment_missed() for _ in range(5)]
    for event in events:
        await notifications.deliver(event)
        notifications.clock.advance(timedelta(minutes=1))
    first = events[0]
    newest = (await inbox(notifications, COUNSELLOR))[0]
    assert (await act(notifications, newest["id"], "acknowledgement", COUNSELLOR)).status_code == 200

    page = await notifications.http.get("/alerts", params={"limit": 2, "offset": 2}, headers=COUNSELLOR)
    past_the_end = await notifications.http.get("/alerts", params={"limit": 2, "offset": 10}, headers=COUNSELLOR)
    by_loan = await inbox(notifications, COUNSELLOR, loan_id=str(first.data.loan_id))
    by_file = await inbox(notifications, COUNSELLOR, application_id=str(first.data.application_id))
    acknowledged = await inbox(notifications, COUNSELLOR, status="acknowledged")

    assert page.headers["X-Total-Count"] == "5"
    assert past_the_end.json() == [] and past_the_end.headers["X-Total-Count"] == "5"
    assert "X-Total-Count" in notifications.app.openapi()["paths"]["/alerts"]["get"]["responses"]["200"]["headers"]
    assert [a["loan_id"] for a in page.json()] == [str(e.data.loan_id) for e in reversed(events)][2:4]  # newest first
    assert [a["loan_id"] for a in by_loan] == [a["loan_id"] for a in by_file] == [str(first.data.loan_id)]
    assert [a["id"] for a in acknowledged] == [newest["id"]]
    assert len(await inbox(notifications, COUNSELLOR, cause_type="fr.microcredit.payment.missed.v1")) == 5
    assert await inbox(notifications, COUNSELLOR, cause_type="fr.microcredit.loan.disbursed.v1") == []
    assert await inbox(notifications, COUNSELLOR, severity="critical") == []
    assert len(await inbox(notifications, COUNSELLOR, severity="warning", status="open")) == 4


# --- escalations -----------------------------------------------------------------------------------


async def test_a_second_missed_instalment_in_a_row_reaches_the_supervisors_once(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    first, second = two_missed_in_a_row()

    for event in (first, second, second, first):
        await notifications.deliver(event)

    mine = await inbox(notifications, COUNSELLOR)
    supervisors = await inbox(notifications, SUPERVISOR, audience="supervisor")
    assert sorted(a["severity"] for a in mine) == ["critical", "warning"]
    assert [(a["severity"], a["cause_event_id"]) for a in supervisors] == [("critical", str(second.id))]
    assert supervisors[0]["message"].startswith("Deuxième échéance impayée d'affilée (n° 2 du 05/05/2026)")
    [escalated] = await published(notifications, "fr.microcredit.alert.escalated.v1")
    assert (escalated.data.reason, str(escalated.data.alert_id)) == ("consecutive_missed_instalments", supervisors[0]["id"])
    assert len(await published(notifications, "fr.microcredit.alert.raised.v1")) == 2


async def test_a_loan_reaching_31_days_past_due_reaches_the_supervisors(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    loan_id, application_id = uuid4(), uuid4()

    await notifications.deliver(support.stage_changed(loan_id, application_id, "1-30", "31-60", 31))

    [alert] = await inbox(notifications, SUPERVISOR)
    assert (alert["audience"], alert["severity"], alert["loan_id"]) == ("supervisor", "critical", str(loan_id))
    assert await inbox(notifications, COUNSELLOR) == []


async def test_an_alert_nobody_acknowledges_goes_to_the_supervisors_after_the_delay(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    missed = payment_missed()
    await notifications.deliver(missed)
    [alert] = await inbox(notifications, COUNSELLOR)

    notifications.clock.advance(47 * HOURS)
    early = await timers(notifications, "escalations")
    notifications.clock.advance(2 * HOURS)
    due = await timers(notifications, "escalations")
    again = await timers(notifications, "escalations")

    assert (early["escalated"], due["escalated"], again["escalated"]) == (0, 1, 0)
    [escalation] = await inbox(notifications, SUPERVISOR, audience="supervisor")
    assert escalation["message"].startswith("Alerte non prise en compte depuis 49 h (c-lefebvre) : Échéance n° 1")
    [event] = await published(notifications, "fr.microcredit.alert.escalated.v1")
    assert (event.data.reason, str(event.data.escalated_from_alert_id)) == ("not_acknowledged", alert["id"])
    assert (await notifications.http.get(f"/alerts/{alert['id']}", headers=COUNSELLOR)).json()["escalated_at"] == "2026-03-04T09:30:00Z"


async def test_a_rule_and_the_escalation_timer_on_one_cause_raise_one_supervisor_alert(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    for event in two_missed_in_a_row():
        await notifications.deliver(event)

    notifications.clock.advance(49 * HOURS)
    run = await timers(notifications, "escalations")

    # Two open counsellor alerts escalate; the second's cause already reached the supervisors by rule.
    assert run["escalated"] == 1
    assert len(await inbox(notifications, SUPERVISOR, audience="supervisor")) == 2


async def test_an_acknowledged_alert_is_acknowledged_once_and_never_escalates(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    await notifications.deliver(payment_missed())
    [alert] = await inbox(notifications, COUNSELLOR)

    first = await act(notifications, alert["id"], "acknowledgement", COUNSELLOR)
    second = await act(notifications, alert["id"], "acknowledgement", SUPERVISOR)
    notifications.clock.advance(72 * HOURS)
    run = await timers(notifications, "escalations")

    assert first.status_code == second.status_code == 200
    assert (second.json()["status"], second.json()["acknowledged_by"]) == ("acknowledged", "c-lefebvre")
    [acknowledged] = await published(notifications, "fr.microcredit.alert.acknowledged.v1")
    assert (acknowledged.data.acknowledged_by, str(acknowledged.data.alert_id)) == ("c-lefebvre", alert["id"])
    assert run["escalated"] == 0


# --- resolve and snooze ----------------------------------------------------------------------------


async def test_a_resolved_alert_keeps_its_note_and_cannot_change_any_more(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    await notifications.deliver(payment_missed())
    [alert] = await inbox(notifications, COUNSELLOR)
    note = "Appelée le 7 avril : perte d'emploi, pause de deux mois demandée à la banque."

    resolved = await act(notifications, alert["id"], "resolution", COUNSELLOR, {"note": note})
    refusals = [
        await act(notifications, alert["id"], "resolution", COUNSELLOR, {"note": "encore"}),
        await act(notifications, alert["id"], "acknowledgement", COUNSELLOR),
        await act(notifications, alert["id"], "snooze", COUNSELLOR, {"until": (TODAY + timedelta(days=3)).isoformat()}),
    ]

    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolution_note"], resolved.json()["resolved_by"]) == ("resolved", note, "c-lefebvre")
    assert [r.status_code for r in refusals] == [409, 409, 409]
    assert all(r.json()["errors"][0]["rule"] == "state" for r in refusals)
    documented = notifications.app.openapi()["paths"]
    assert [
        documented[f"/alerts/{{alert_id}}/{action}"]["post"]["responses"]["409"]["content"].keys()
        for action in ("resolution", "acknowledgement", "snooze")
    ] == [{"application/problem+json"}] * 3


async def test_a_snoozed_alert_waits_then_comes_back_open_on_its_day_and_escalates_from_then(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")  # the clock: Monday 2 March 2026, 9:30 in Paris
    await notifications.deliver(payment_missed())
    [alert] = await inbox(notifications, COUNSELLOR)

    snoozed = await act(notifications, alert["id"], "snooze", COUNSELLOR, {"until": "2026-03-05"})
    notifications.clock.advance(49 * HOURS)
    while_snoozed = await timers(notifications, "escalations", "reminders")
    notifications.clock.instant = datetime(2026, 3, 5, 7, 0, tzinfo=UTC)  # 8:00 in Paris
    woken = await timers(notifications, "escalations", "reminders")
    back = (await notifications.http.get(f"/alerts/{alert['id']}", headers=COUNSELLOR)).json()
    notifications.clock.advance(49 * HOURS)
    later = await timers(notifications, "escalations")

    assert snoozed.status_code == 200
    assert (snoozed.json()["status"], snoozed.json()["snoozed_until"]) == ("snoozed", "2026-03-05T07:00:00Z")
    assert (while_snoozed["escalated"], while_snoozed["reminded"]) == (0, 0)
    assert (woken["escalated"], woken["reminded"]) == (0, 1)
    assert (back["status"], back["reminded_at"], back["snoozed_until"]) == ("open", "2026-03-05T07:00:00Z", None)
    assert later["escalated"] == 1


# --- the file's and the loan's life ----------------------------------------------------------------

LOAN, FILE = uuid4(), uuid4()
LIFE = {
    "loan approved": (loan_approved(FILE), "info"),
    "loan declined": (support.loan_declined(FILE), "warning"),
    "loan disbursed": (support.loan_disbursed(LOAN, FILE), "info"),
    "loan rescheduled": (support.loan_rescheduled(LOAN), "info"),
    "adjustment refused": (support.adjustment_refused(LOAN), "warning"),
}


@pytest.mark.parametrize("fact", LIFE)
async def test_the_banks_decisions_and_the_loans_life_reach_the_counsellor_once(fact: str, start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    event, severity = LIFE[fact]

    await notifications.deliver(event)
    await notifications.deliver(event)

    [alert] = await inbox(notifications, COUNSELLOR)
    assert (alert["cause_type"], alert["severity"], alert["audience"]) == (event.type, severity, "counsellor")
    assert notifications.dead_letters == []


def documents_received(application_id: UUID) -> ApplicationUpdated:
    """Intake says the tax notice and the proof of address came in."""
    documents = {"identity": "verified", "tax_notice": "received", "proof_of_address": "received"}
    return new_event(
        ApplicationUpdated, source="/services/intake", subject=str(application_id), time=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
        data=ApplicationUpdatedData(application_id=application_id, **application_body(), documents=documents, changed_fields=["documents"]),
    )


async def test_a_file_left_incomplete_alerts_its_counsellor_once_after_the_delay(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    application_id = uuid4()
    await notifications.deliver(support.assessed_incomplete(application_id, ["tax_notice", "proof_of_address"], notifications.clock.now()))

    notifications.clock.advance(timedelta(days=14))
    early = await timers(notifications, "incomplete_files")
    notifications.clock.advance(timedelta(days=2))
    due = await timers(notifications, "incomplete_files")
    again = await timers(notifications, "incomplete_files")

    assert (early["incomplete_files"], due["incomplete_files"], again["incomplete_files"]) == (0, 1, 0)
    [alert] = await inbox(notifications, COUNSELLOR)
    assert alert["application_id"] == str(application_id)
    assert alert["message"].startswith("Dossier incomplet depuis 16 jours : il manque avis d'imposition")


async def test_documents_arriving_in_time_stop_the_incomplete_file_alert(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")
    application_id = uuid4()
    await notifications.deliver(support.assessed_incomplete(application_id, ["tax_notice", "proof_of_address"], notifications.clock.now()))

    await notifications.deliver(documents_received(application_id))
    notifications.clock.advance(timedelta(days=30))

    assert (await timers(notifications, "incomplete_files"))["incomplete_files"] == 0
    assert await inbox(notifications, COUNSELLOR) == []


async def test_only_a_counsellor_sets_their_email_preference(start_service: ServiceStarter) -> None:
    notifications = await start_service("notifications")

    default = await notifications.http.get("/preferences/email", headers=COUNSELLOR)
    chosen = await notifications.http.put("/preferences/email", json={"mode": "daily_digest", "digest_hour": 18}, headers=COUNSELLOR)
    read_back = await notifications.http.get("/preferences/email", headers=COUNSELLOR)
    colleague = await notifications.http.get("/preferences/email", headers=COLLEAGUE)
    supervisor = await notifications.http.put("/preferences/email", json={"mode": "daily_digest"}, headers=SUPERVISOR)

    assert (default.json()["mode"], default.json()["digest_hour"]) == ("immediate", 7)
    assert chosen.status_code == 200
    assert (read_back.json()["mode"], read_back.json()["digest_hour"]) == ("daily_digest", 18)
    assert colleague.json()["mode"] == "immediate"
    assert supervisor.status_code == 403
