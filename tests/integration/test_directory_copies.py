"""A change in the directory takes effect in assessment and notifications without restarting them: each keeps its own copy.

The directory service runs beside them; what it publishes is handed to them as the broker would
(`directory_service.relay`), while they keep running.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from shared.events import parse_event
from tests.integration.conftest import TODAY, RunningService, ServiceStarter, payment_missed
from tests.support import directory
from tests.support import notifications as support
from tests.support import tokens
from tests.support.assessment import COUNSELLOR, FAVOURABLE, FICP_CLEAR, fatou_diallo, routed_file
from tests.support.directory_service import ADMIN, fill, relay
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

OPS = bearer(tokens.ops())
NEW_SOPHIE = "sophie.marchand@caritas-hdf.example"


async def started_with_directory(start_service: ServiceStarter, name: str) -> tuple[RunningService, RunningService]:
    """`name` running, and the directory service holding (and having told it) the tests' directory."""
    reader, admin_side = await start_service(name), await start_service("directory")
    await fill(admin_side)
    await relay(admin_side, reader)  # the same versions it knew already: nothing changes
    return reader, admin_side


async def change(service: RunningService, snapshot: Any, **fields: Any) -> None:
    """An admin changes one entity of the tests' directory."""
    path, body = directory.put_body(snapshot)
    answer = await service.http.put(path, json={**body, **fields}, headers=ADMIN)
    assert answer.status_code == 200, answer.text


# --- assessment ------------------------------------------------------------------------------------


async def consulted_file(assessment: RunningService) -> str:
    """Fatou Diallo's file, submitted and its FICP consulted: ready to be routed."""
    submitted = fatou_diallo()
    await assessment.deliver(submitted)
    file = str(submitted.data.application_id)
    assert (await assessment.http.post(f"/assessments/{file}/ficp", json=FICP_CLEAR, headers=COUNSELLOR)).status_code == 200
    return file


async def test_a_bank_deactivated_in_the_directory_can_no_longer_be_chosen(start_service: ServiceStarter) -> None:
    assessment, admin_side = await started_with_directory(start_service, "assessment")
    file = await consulted_file(assessment)

    await change(admin_side, directory.bank("credit-mutuel-nord"), active=False)
    told = await relay(admin_side, assessment)
    refused = await assessment.http.post(f"/assessments/{file}/outcome", json=FAVOURABLE, headers=COUNSELLOR)
    routed = await assessment.http.post(
        f"/assessments/{file}/outcome", json={**FAVOURABLE, "bank_id": "la-banque-postale"}, headers=COUNSELLOR
    )

    assert [(e.subject, e.data.active, e.data.version) for e in told] == [("banks/credit-mutuel-nord", False, 2)]
    assert refused.status_code == 422
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("bank_id", "partner_bank")]
    assert "active partners: la-banque-postale" in refused.json()["detail"]
    assert (routed.status_code, routed.json()["bank_id"]) == (200, "la-banque-postale")


async def test_a_bank_dropped_from_the_associations_partners_can_no_longer_be_chosen(start_service: ServiceStarter) -> None:
    assessment, admin_side = await started_with_directory(start_service, "assessment")
    file = await consulted_file(assessment)

    await change(admin_side, directory.association(), partner_banks=["la-banque-postale"])
    await relay(admin_side, assessment)
    refused = await assessment.http.post(f"/assessments/{file}/outcome", json=FAVOURABLE, headers=COUNSELLOR)

    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "bank_id"


async def test_a_networks_new_threshold_assesses_the_next_file(start_service: ServiceStarter) -> None:
    assessment, admin_side = await started_with_directory(start_service, "assessment")
    before = fatou_diallo()
    await assessment.deliver(before)

    # Fatou Diallo keeps 432.30 € per consumption unit: enough at 300 €, not at 450 €.
    await change(admin_side, directory.network(), min_remaining_per_unit_cents=450_00)
    await relay(admin_side, assessment)
    after = fatou_diallo()
    await assessment.deliver(after)

    async def remaining_check(file: Any) -> bool:
        view = (await assessment.http.get(f"/assessments/{file.data.application_id}", headers=COUNSELLOR)).json()
        return {c["name"]: c["passed"] for c in view["checks"]}["remaining_per_unit"]

    assert (await remaining_check(before), await remaining_check(after)) == (True, False)


async def test_the_bank_reads_the_associations_contact_as_the_directory_says_it_now(start_service: ServiceStarter) -> None:
    assessment, admin_side = await started_with_directory(start_service, "assessment")
    file = await routed_file(assessment)
    bank = bearer(tokens.bank())
    first = (await assessment.http.get(f"/bank/files/{file}", headers=bank)).json()

    await change(admin_side, directory.association(), bank_contact="credit.hdf@secours-catholique.example")
    await relay(admin_side, assessment)
    then = (await assessment.http.get(f"/bank/files/{file}", headers=bank)).json()

    assert (first["association"]["contact"], then["association"]["contact"]) == (
        directory.BANK_CONTACT, "credit.hdf@secours-catholique.example"
    )


async def test_an_older_snapshot_delivered_late_changes_nothing(start_service: ServiceStarter) -> None:
    assessment, admin_side = await started_with_directory(start_service, "assessment")
    file = await consulted_file(assessment)
    await change(admin_side, directory.bank("credit-mutuel-nord"), active=False)
    await relay(admin_side, assessment)

    await assessment.deliver(directory.bank("credit-mutuel-nord"))  # version 1, active: a replay of the past
    refused = await assessment.http.post(f"/assessments/{file}/outcome", json=FAVOURABLE, headers=COUNSELLOR)

    assert refused.status_code == 422


# --- notifications ---------------------------------------------------------------------------------


async def run(service: RunningService) -> dict[str, Any]:
    """Run the mailer now, as ops would."""
    response = await service.http.post("/operations/timers", json={"timers": ["emails"]}, headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_supervisors_email_changed_between_the_alert_and_the_sending_reaches_the_new_address(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port)
        notifications, admin_side = await started_with_directory(start_service, "notifications")
        loan = uuid4()
        # The second instalment missed in a row: the supervisors are alerted too.
        await notifications.deliver(payment_missed(loan))
        await notifications.deliver(payment_missed(loan, instalment_number=2, due_date=TODAY.replace(month=5, day=5)))

        await change(admin_side, directory.contact("s-marchand", directory.SOPHIE, "supervisor"), email=NEW_SOPHIE,
                     display_name="Sophie Marchand")
        await relay(admin_side, notifications)
        await run(notifications)

    escalations = [m for m in smtp.received if m.subject.startswith("[Microcrédit] Escalade")]
    assert [m.recipients for m in escalations] == [[NEW_SOPHIE]]
    [row] = await notifications.fetch("select recipients from email_deliveries where addressee_kind = 'supervisors'")
    assert row["recipients"] == [NEW_SOPHIE]


async def test_an_email_with_no_address_yet_waits_for_the_directory_and_goes_out_once_it_has_one(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    croix_rouge = {"association_id": "croix-rouge", "region": "occitanie", "counsellor_id": "c-benoit"}
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port, email_retry_base_seconds=60)
        notifications = await start_service("notifications")
        await notifications.deliver(payment_missed(**croix_rouge))

        waiting = await run(notifications)
        [row] = await notifications.fetch("select status, last_error from email_deliveries")
        await notifications.deliver(directory.contact("c-benoit", "l.benoit@croix-rouge.example", "counsellor", association_id="croix-rouge"))
        notifications.clock.advance(timedelta(seconds=61))
        sent = await run(notifications)

    assert (waiting["emails_sent"], waiting["emails_retried"]) == (0, 1)
    assert row["status"] == "pending"
    assert "no e-mail address for the counsellor c-benoit" in row["last_error"]
    assert sent["emails_sent"] == 1
    assert [m.recipients for m in smtp.received] == [["l.benoit@croix-rouge.example"]]


async def test_an_email_whose_addressee_never_gets_an_address_is_given_up_and_said(
    monkeypatch: pytest.MonkeyPatch, start_service: ServiceStarter
) -> None:
    with support.smtp_server() as smtp:
        support.configure(monkeypatch, smtp_port=smtp.port, email_max_attempts=1)
        notifications = await start_service("notifications")
        await notifications.deliver(payment_missed(association_id="croix-rouge", counsellor_id="c-benoit"))

        result = await run(notifications)

    assert (result["emails_failed"], smtp.received) == (1, [])
    [outbox] = await notifications.fetch("select payload from outbox where event_type = 'fr.microcredit.delivery.failed.v1'")
    failed = parse_event(bytes(outbox["payload"]))
    assert (failed.data.channel, failed.data.association_id) == ("email", "croix-rouge")
    assert "no e-mail address" in failed.data.last_error
