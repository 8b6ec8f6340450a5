"""Intake in process: a counsellor builds a file, submits, corrects and withdraws it; its audit trail and the funnel."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.intake.app import DEFINITION as INTAKE
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.events import ApplicationSubmitted, ApplicationUpdated, ApplicationWithdrawn, parse_event
from shared.events.envelope import Envelope
from tests.integration.conftest import NOW, RunningService, ServiceStarter, loan_approved
from tests.support import intake as files
from tests.support.privacy import opened
from tests.support.tokens import bearer, counsellor, ops, supervisor

pytestmark = pytest.mark.integration

NADIA = bearer(counsellor())  # c-lefebvre, Secours Catholique, Hauts-de-France


async def published(service: RunningService) -> list[Envelope[Any]]:
    """The events intake stored in its outbox, in order, their personal fields opened (as assessment reads them)."""
    rows = await service.fetch("select payload from outbox order by id")
    return await opened(service.dsn, [parse_event(bytes(r["payload"])) for r in rows])


async def open_file(service: RunningService, body: dict[str, Any], headers: dict[str, str] = NADIA) -> dict[str, Any]:
    """Open a draft and return it."""
    response = await service.http.post("/applications", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def submitted_file(
    service: RunningService, headers: dict[str, str] = NADIA, reason: str | None = None, **overrides: Any
) -> str:
    """Open and submit a file (complete unless `overrides` say otherwise, then with `reason`); return its id."""
    draft = await open_file(service, files.complete_file(**overrides), headers)
    body = {"incomplete_reason": reason} if reason else {}
    response = await service.http.post(f"/applications/{draft['id']}/submission", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return draft["id"]


# --- drafts and submission --------------------------------------------------------------------------


async def test_a_draft_edited_then_submitted_publishes_the_whole_file(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    draft = await open_file(intake, files.first_appointment())
    assert draft["status"] == "draft"
    assert (draft["association_id"], draft["region"], draft["counsellor_id"]) == ("secours-catholique", "hauts-de-france", "c-lefebvre")
    assert await published(intake) == []  # nobody outside intake hears of a draft

    rest = {k: v for k, v in files.complete_file().items() if k != "project"}
    rest["project"] = files.complete_file()["project"]
    edited = await intake.http.patch(f"/applications/{draft['id']}", json=rest, headers=NADIA)
    assert edited.status_code == 200, edited.text
    assert edited.json()["checklist_complete"] is True
    assert (edited.json()["monthly_resources_cents"], edited.json()["monthly_charges_cents"]) == (135_000, 82_000)
    assert await published(intake) == []

    response = await intake.http.post(f"/applications/{draft['id']}/submission", json={}, headers=NADIA)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "submitted"
    [stored] = await intake.fetch("select payload from outbox")
    assert b"Nadia Benali" not in bytes(stored["payload"]) and b"1988-06-14" not in bytes(stored["payload"])  # sealed
    [event] = await published(intake)
    assert isinstance(event, ApplicationSubmitted)
    assert event.subject == draft["id"]
    data = event.data
    assert (data.association_id, data.region, data.counsellor_id, data.branch_id) == (
        "secours-catholique", "hauts-de-france", "c-lefebvre", "lens-centre"
    )
    assert (data.applicant_name, str(data.birth_date)) == ("Nadia Benali", "1988-06-14")
    assert (data.purpose, data.amount_cents, data.duration_months) == ("vehicle", 300_000, 36)
    assert data.household is not None and (data.household.adults, data.household.children_ages) == (1, [9, 15])
    assert data.resources == {"salary": 98_000, "family_allowances": 14_800, "rsa": 22_200}
    assert data.charges == {"rent": 52_000, "energy": 9_500, "insurance": 6_500, "telephone": 3_000, "transport": 11_000}
    assert (data.monthly_resources_cents, data.monthly_charges_cents) == (135_000, 82_000)
    assert data.project is not None
    assert (data.project.category, data.project.supplier, data.project.quote_cents) == ("vehicle", "Garage Dupont, Lens", 420_000)
    assert data.referral_source == "ccas"
    assert data.documents == {kind: "verified" for kind in files.VEHICLE_DOCUMENTS}
    assert data.incomplete_reason is None


async def test_an_incomplete_file_is_submitted_only_with_a_reason(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    documents = files.complete_file()["documents"]
    documents["tax_notice"] = {"status": "expired", "on": "2026-02-20"}
    del documents["insurance_quote"]
    draft = await open_file(intake, files.complete_file(documents=documents))

    refused = await intake.http.post(f"/applications/{draft['id']}/submission", json={}, headers=NADIA)

    assert refused.status_code == 422
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("documents", "checklist_incomplete")]
    assert "tax_notice" in refused.json()["detail"] and "insurance_quote" in refused.json()["detail"]
    assert await published(intake) == []

    reason = "Avis d'imposition 2025 demandé aux impôts ; l'assureur envoie son devis sous huit jours."
    accepted = await intake.http.post(f"/applications/{draft['id']}/submission", json={"incomplete_reason": reason}, headers=NADIA)

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["incomplete_reason"] == reason
    [event] = await published(intake)
    assert event.data.incomplete_reason == reason
    assert (event.data.documents["tax_notice"], event.data.documents["insurance_quote"]) == ("expired", "missing")


async def test_a_draft_lacking_its_budget_cannot_be_submitted(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    draft = await open_file(intake, files.first_appointment())

    response = await intake.http.post(f"/applications/{draft['id']}/submission", json={"incomplete_reason": "Urgent"}, headers=NADIA)

    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "applicant.birth_date", "rule": "required_for_submission", "message": response.json()["detail"]
    }
    assert "household" in response.json()["detail"] and "resources" in response.json()["detail"]


async def test_a_file_is_submitted_once(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    application_id = await submitted_file(intake)

    again = await intake.http.post(f"/applications/{application_id}/submission", json={}, headers=NADIA)

    assert again.status_code == 409
    assert (again.json()["errors"][0]["field"], again.json()["errors"][0]["rule"]) == ("status", "state")
    assert len(await published(intake)) == 1


async def test_a_file_submitted_and_withdrawn_at_the_same_moment_gets_one_after_the_other(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    draft = await open_file(intake, files.complete_file())
    path = f"/applications/{draft['id']}"

    # Nothing holds the file between its read and its write: the one that loses the race reads it again.
    submitted, withdrawn = await asyncio.gather(
        intake.http.post(f"{path}/submission", json={}, headers=NADIA),
        intake.http.post(f"{path}/withdrawal", json={"reason": "Le garage a vendu la voiture à un autre client."}, headers=NADIA),
    )

    outcome = (
        (submitted.status_code, withdrawn.status_code),
        [e.type for e in await published(intake)],
        [line["action"] for line in (await intake.http.get(f"{path}/audit", headers=NADIA)).json()],
    )
    submission_first = ((200, 200), [ApplicationSubmitted.event_type(), ApplicationWithdrawn.event_type()], ["opened", "submitted", "withdrawn"])
    withdrawal_first = ((409, 200), [], ["opened", "withdrawn"])  # a withdrawn draft publishes nothing, and cannot be submitted
    assert outcome in (submission_first, withdrawal_first)
    assert (await intake.http.get(path, headers=NADIA)).json()["status"] == "withdrawn"


@pytest.mark.parametrize(
    ("purpose", "rule"),
    [("consumption", "everyday_consumption_excluded"), ("debt_repayment", "debt_repayment_excluded"), ("holidays", "enum")],
)
async def test_a_purpose_that_does_not_serve_insertion_is_refused_by_name(purpose: str, rule: str, start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    body = files.complete_file(project={**files.complete_file()["project"], "purpose": purpose})

    response = await intake.http.post("/applications", json=body, headers=NADIA)

    assert response.status_code == 422
    assert ("project.purpose", rule) in [(e["field"], e["rule"]) for e in response.json()["errors"]]


# --- after submission ---------------------------------------------------------------------------


async def test_a_change_after_submission_publishes_the_updated_file(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    documents = {**files.complete_file()["documents"], "insurance_quote": {"status": "missing"}}
    application_id = await submitted_file(intake, reason="L'assureur envoie son devis lundi.", documents=documents)
    intake.clock.advance(timedelta(days=3))
    charges = {**files.complete_file()["charges"], "rent": 54_000}  # the new lease from 1 March

    response = await intake.http.patch(
        f"/applications/{application_id}",
        json={"documents": {"insurance_quote": {"status": "received"}}, "charges": charges},
        headers=NADIA,
    )

    assert response.status_code == 200, response.text
    file = response.json()
    assert file["monthly_charges_cents"] == 84_000
    assert {"kind": "insurance_quote", "required": True, "status": "received", "on": "2026-03-05"} in file["checklist"]
    submitted, updated = await published(intake)
    assert isinstance(submitted, ApplicationSubmitted) and isinstance(updated, ApplicationUpdated)
    assert updated.data.changed_fields == ["charges", "documents.insurance_quote"]
    assert updated.data.monthly_charges_cents == 84_000
    assert updated.data.documents["insurance_quote"] == "received"
    assert updated.data.applicant_name == "Nadia Benali"  # the whole file, not only what changed


async def test_the_same_change_sent_twice_publishes_once(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    application_id = await submitted_file(intake)
    change = {"documents": {"bank_statements": {"status": "verified"}}, "amount_cents": 280_000}

    for _ in range(2):
        assert (await intake.http.patch(f"/applications/{application_id}", json=change, headers=NADIA)).status_code == 200

    assert [type(e) for e in await published(intake)] == [ApplicationSubmitted, ApplicationUpdated]


async def test_a_submitted_file_cannot_lose_what_submission_needs(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    application_id = await submitted_file(intake)

    response = await intake.http.patch(f"/applications/{application_id}", json={"household": None}, headers=NADIA)

    assert response.status_code == 422
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == ("household", "required_for_submission")


# --- withdrawal ---------------------------------------------------------------------------------


async def test_the_applicant_withdraws_before_the_bank_decides(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    application_id = await submitted_file(intake)
    await intake.deliver(files.assessed(UUID(application_id), NOW + timedelta(days=2)))

    response = await intake.http.post(
        f"/applications/{application_id}/withdrawal",
        json={"reason": "A trouvé un prêt familial pour la voiture."},
        headers=NADIA,
    )

    assert response.status_code == 200, response.text
    file = response.json()
    assert (file["status"], file["withdrawn_by"], file["withdrawal_reason"]) == (
        "withdrawn", "c-lefebvre", "A trouvé un prêt familial pour la voiture."
    )
    event = (await published(intake))[-1]
    assert isinstance(event, ApplicationWithdrawn)
    assert (event.data.withdrawn_by, event.data.reason) == ("c-lefebvre", "A trouvé un prêt familial pour la voiture.")
    refused_edit = await intake.http.patch(f"/applications/{application_id}", json={"amount_cents": 250_000}, headers=NADIA)
    assert refused_edit.status_code == 409


async def test_a_withdrawal_after_the_bank_approved_is_refused(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    application_id = await submitted_file(intake)
    await intake.deliver(loan_approved(UUID(application_id)))
    assert (await intake.http.get(f"/applications/{application_id}", headers=NADIA)).json()["status"] == "approved"

    response = await intake.http.post(
        f"/applications/{application_id}/withdrawal", json={"reason": "Ne souhaite plus emprunter."}, headers=NADIA
    )

    assert response.status_code == 409
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == ("status", "bank_decided")
    assert [type(e) for e in await published(intake)] == [ApplicationSubmitted]


async def test_a_withdrawn_draft_publishes_nothing(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    draft = await open_file(intake, files.first_appointment())

    response = await intake.http.post(f"/applications/{draft['id']}/withdrawal", json={"reason": "Projet abandonné."}, headers=NADIA)

    assert response.json()["status"] == "withdrawn"
    assert await published(intake) == []


# --- audit trail --------------------------------------------------------------------------------


async def test_the_audit_trail_lists_each_change_with_who_and_when(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    draft = await open_file(intake, files.complete_file())
    steps = [
        ("PATCH", "", {"amount_cents": 280_000}, NADIA),
        ("PATCH", "", {"counsellor_id": "c-roux"}, bearer(supervisor())),
        ("POST", "/submission", {}, bearer(counsellor(sub="c-roux"))),
        ("POST", "/withdrawal", {"reason": "Déménage à Lille."}, bearer(counsellor(sub="c-roux"))),
    ]
    for method, suffix, body, headers in steps:
        intake.clock.advance(timedelta(hours=1))
        response = await intake.http.request(method, f"/applications/{draft['id']}{suffix}", json=body, headers=headers)
        assert response.status_code == 200, response.text

    trail = (await intake.http.get(f"/applications/{draft['id']}/audit", headers=NADIA)).json()

    assert [(line["action"], line["actor_subject"], line["actor_role"], line["at"]) for line in trail] == [
        ("opened", "c-lefebvre", "counsellor", "2026-03-02T08:30:00Z"),
        ("edited", "c-lefebvre", "counsellor", "2026-03-02T09:30:00Z"),
        ("edited", "s-marchand", "supervisor", "2026-03-02T10:30:00Z"),
        ("submitted", "c-roux", "counsellor", "2026-03-02T11:30:00Z"),
        ("withdrawn", "c-roux", "counsellor", "2026-03-02T12:30:00Z"),
    ]
    assert trail[1]["details"] == {"changed_fields": ["amount_cents"]}
    assert trail[2]["details"] == {"changed_fields": ["counsellor_id"]}
    assert trail[4]["details"]["reason"] == "Déménage à Lille."


async def test_assessment_events_are_in_the_audit_trail_once(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    application_id = await submitted_file(intake)
    approval = loan_approved(UUID(application_id))

    await intake.deliver(files.assessed(UUID(application_id), NOW + timedelta(days=1)))
    await intake.deliver(files.routed(UUID(application_id), NOW + timedelta(days=1, hours=1)))
    await intake.deliver(approval.model_copy(update={"time": NOW + timedelta(days=12)}))
    await intake.deliver(approval.model_copy(update={"time": NOW + timedelta(days=12)}))

    trail = (await intake.http.get(f"/applications/{application_id}/audit", headers=NADIA)).json()
    assert [(line["action"], line["actor_role"]) for line in trail] == [
        ("opened", "counsellor"), ("submitted", "counsellor"), ("assessed_favourable", "service"), ("routed", "service"),
        ("approved", "service"),
    ]
    assert trail[-1]["actor_subject"] == "/services/assessment"
    file = (await intake.http.get(f"/applications/{application_id}", headers=NADIA)).json()
    assert (file["status"], file["decided_at"]) == ("approved", "2026-03-14T08:30:00Z")
    assert intake.dead_letters == []


async def test_a_late_event_never_moves_a_file_back(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    application_id = UUID(await submitted_file(intake))

    await intake.deliver(files.routed(application_id, NOW + timedelta(days=2)))
    await intake.deliver(files.assessed(application_id, NOW + timedelta(days=1)))

    assert (await intake.http.get(f"/applications/{application_id}", headers=NADIA)).json()["status"] == "routed"


# --- lists and who files under whose name ------------------------------------------------------


async def test_a_counsellor_lists_their_own_files_and_a_supervisor_the_associations(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    mine = await submitted_file(intake)
    draft = (await open_file(intake, files.first_appointment()))["id"]
    colleagues = (await open_file(intake, files.first_appointment(), bearer(counsellor(sub="c-roux"))))["id"]
    await open_file(intake, files.first_appointment(), bearer(counsellor(sub="c-petit", association="restos-du-coeur")))

    own = (await intake.http.get("/applications", headers=NADIA)).json()
    drafts = (await intake.http.get("/applications", params={"status": "draft"}, headers=NADIA)).json()
    association = (await intake.http.get("/applications", headers=bearer(supervisor()))).json()
    page = (await intake.http.get("/applications", params={"limit": 1, "offset": 1}, headers=bearer(supervisor()))).json()
    submitted = (await intake.http.get("/applications", params={"status": "submitted"}, headers=bearer(supervisor()))).json()

    assert {f["id"] for f in own} == {mine, draft}
    assert [f["id"] for f in drafts] == [draft]
    assert {f["id"] for f in association} == {mine, draft, colleagues}
    assert len(page) == 1
    assert [f["id"] for f in submitted] == [mine]
    assert own[0]["applicant_name"] == "Nadia Benali"


async def test_a_supervisor_assigns_the_file_and_a_counsellor_files_under_their_own_name(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")

    assigned = await open_file(intake, {**files.first_appointment(), "counsellor_id": "c-roux"}, bearer(supervisor()))
    unassigned = await intake.http.post("/applications", json=files.first_appointment(), headers=bearer(supervisor()))
    for_a_colleague = await intake.http.post(
        "/applications", json={**files.first_appointment(), "counsellor_id": "c-roux"}, headers=NADIA
    )
    elsewhere = await intake.http.post(
        "/applications", json={**files.first_appointment(), "association_id": "restos-du-coeur"}, headers=NADIA
    )

    assert (assigned["counsellor_id"], assigned["created_by"]) == ("c-roux", "s-marchand")
    assert (unassigned.status_code, unassigned.json()["counsellor_id"]) == (201, "s-marchand")
    assert (for_a_colleague.status_code, for_a_colleague.json()["errors"][0]["rule"]) == (403, "assign_counsellor")
    assert (elsewhere.status_code, elsewhere.json()["errors"][0]["rule"]) == (422, "extra_forbidden")


@pytest.mark.parametrize(
    ("birth_date", "rule"),
    [("2026-03-02", "past_date"), ("2009-03-03", "adult"), ("1900-01-01", "plausible_age")],
    ids=["today", "17 years old", "126 years old"],
)
async def test_a_birth_date_must_be_an_adults(birth_date: str, rule: str, start_service: ServiceStarter) -> None:
    intake = await start_service("intake")

    response = await intake.http.post(
        "/applications", json=files.complete_file(applicant=files.applicant(birth_date=birth_date)), headers=NADIA
    )

    assert response.status_code == 422
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == ("applicant.birth_date", rule)


async def test_a_document_cannot_be_dated_tomorrow(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    draft = await open_file(intake, files.first_appointment())

    response = await intake.http.patch(
        f"/applications/{draft['id']}", json={"documents": {"quote": {"status": "received", "on": "2026-03-03"}}}, headers=NADIA
    )

    assert response.status_code == 422
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == ("documents.quote.on", "not_future")


# --- the funnel ---------------------------------------------------------------------------------


async def test_the_funnel_counts_each_step_on_the_day_it_happened(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    lens = bearer(counsellor())  # Secours Catholique, Hauts-de-France
    paris = bearer(counsellor(sub="c-nguyen", region="ile-de-france"))  # Secours Catholique, Île-de-France
    restos = bearer(counsellor(sub="c-petit", association="restos-du-coeur"))  # Restos du Cœur, Hauts-de-France

    # February: one Lens file opened and submitted (before the period).
    intake.clock.instant = NOW - timedelta(days=10)
    february = UUID(await submitted_file(intake, lens))
    # March, in the period.
    intake.clock.instant = NOW
    approved, declined, withdrawn = [UUID(await submitted_file(intake, lens)) for _ in range(3)]
    await open_file(intake, files.first_appointment(), lens)  # a draft left open
    paris_file = UUID(await submitted_file(intake, paris))
    restos_file = UUID(await submitted_file(intake, restos))
    ile = {"region": "ile-de-france", "counsellor_id": "c-nguyen"}
    restos_owner = {"association_id": "restos-du-coeur", "counsellor_id": "c-petit"}
    day = timedelta(days=1)
    for event in (
        files.assessed(february, NOW + day),  # assessed in the period though opened before it
        files.assessed(approved, NOW + day), files.routed(approved, NOW + day),
        loan_approved(approved).model_copy(update={"time": NOW + 10 * day}),
        files.assessed(declined, NOW + day), files.routed(declined, NOW + day), files.declined(declined, NOW + 12 * day),
        files.assessed(paris_file, NOW + 2 * day, "unfavourable", **ile),
        files.assessed(restos_file, NOW + 2 * day, **restos_owner), files.routed(restos_file, NOW + 3 * day, **restos_owner),
        files.routed(restos_file, NOW + 40 * day, **restos_owner),  # a late duplicate: the first date counts
    ):
        await intake.deliver(event)
    intake.clock.instant = NOW + 5 * day
    assert (await intake.http.post(f"/applications/{withdrawn}/withdrawal", json={"reason": "Prêt familial."}, headers=lens)).status_code == 200

    period = {"from": "2026-03-01", "to": "2026-03-31"}
    everyone = (await intake.http.get("/funnel", params=period, headers=bearer(ops()))).json()
    secours = (await intake.http.get("/funnel", params=period, headers=bearer(supervisor()))).json()
    north = (await intake.http.get("/funnel", params={**period, "region": "hauts-de-france"}, headers=bearer(ops()))).json()

    zero = dict.fromkeys(("first_contacts", "appointments", "oriented", "not_eligible", "opened", "submitted",
                          "assessed_favourable", "routed", "approved", "declined", "withdrawn"), 0)  # no first contact logged here
    rows = {(r.pop("association_id"), r.pop("region")): r for r in everyone["rows"]}
    assert rows == {
        ("restos-du-coeur", "hauts-de-france"): {**zero, "opened": 1, "submitted": 1, "assessed_favourable": 1, "routed": 1},
        ("secours-catholique", "hauts-de-france"): {
            **zero, "opened": 4, "submitted": 3, "assessed_favourable": 3, "routed": 2, "approved": 1, "declined": 1, "withdrawn": 1,
        },
        ("secours-catholique", "ile-de-france"): {**zero, "opened": 1, "submitted": 1},
    }
    assert everyone["total"] == {**zero, "opened": 6, "submitted": 5, "assessed_favourable": 4, "routed": 3, "approved": 1, "declined": 1, "withdrawn": 1}
    assert (everyone["from"], everyone["to"]) == ("2026-03-01", "2026-03-31")
    assert {(r["association_id"], r["region"]) for r in secours["rows"]} == {("secours-catholique", "hauts-de-france"), ("secours-catholique", "ile-de-france")}
    assert {(r["association_id"], r["region"]) for r in north["rows"]} == {("restos-du-coeur", "hauts-de-france"), ("secours-catholique", "hauts-de-france")}
    february_only = (await intake.http.get("/funnel", params={"from": "2026-02-01", "to": "2026-02-28"}, headers=bearer(ops()))).json()
    assert february_only["total"] == {**zero, "opened": 1, "submitted": 1}


async def test_the_funnel_holds_no_personal_data(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    await submitted_file(intake)

    funnel = await intake.http.get("/funnel", params={"from": "2026-03-01", "to": "2026-03-31"}, headers=bearer(ops()))

    assert funnel.status_code == 200
    assert "Benali" not in funnel.text and "c-lefebvre" not in funnel.text


async def test_a_counsellor_sees_only_their_associations_funnel(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")
    await submitted_file(intake, bearer(counsellor(sub="c-petit", association="restos-du-coeur")))
    period = {"from": "2026-03-01", "to": "2026-03-31"}

    own = await intake.http.get("/funnel", params=period, headers=NADIA)
    other = await intake.http.get("/funnel", params={**period, "association_id": "restos-du-coeur"}, headers=NADIA)

    assert own.json()["rows"] == []
    assert other.status_code == 403
    assert (other.json()["errors"][0]["field"], other.json()["errors"][0]["rule"]) == ("query.association_id", "other_association")


async def test_an_event_about_a_file_intake_does_not_hold_still_counts_in_the_funnel(start_service: ServiceStarter) -> None:
    intake = await start_service("intake")

    await intake.deliver(files.assessed(uuid4(), NOW))

    funnel = (await intake.http.get("/funnel", params={"from": "2026-03-02", "to": "2026-03-02"}, headers=bearer(ops()))).json()
    assert funnel["total"]["assessed_favourable"] == 1
    assert intake.dead_letters == []


# --- files written before the full form ---------------------------------------------------------


async def test_a_file_submitted_before_the_full_form_is_still_read_counted_and_withdrawn(
    database: str, tmp_path: Path, start_service: ServiceStarter
) -> None:
    # The database as the first version of intake left it: migration 001 only, one submitted file.
    first_version = tmp_path / "intake" / "migrations"
    first_version.mkdir(parents=True)
    shutil.copy(INTAKE.migrations / "001_applications.sql", first_version)
    pool = await create_pool(database, "intake")
    try:
        await migrate(pool, "intake", [PLUMBING_MIGRATIONS, first_version])
        legacy_id = uuid4()
        await pool.execute(
            "insert into applications (id, association_id, region, counsellor_id, applicant_name, purpose, amount_cents,"
            " duration_months, monthly_resources_cents, monthly_charges_cents, status, submitted_at)"
            " values ($1, 'secours-catholique', 'hauts-de-france', 'c-lefebvre', 'Julien Moreau', 'training', 150000,"
            " 24, 110000, 70000, 'submitted', $2)",
            legacy_id, NOW - timedelta(days=1),
        )
    finally:
        await pool.close()

    intake = await start_service("intake")

    file = (await intake.http.get(f"/applications/{legacy_id}", headers=NADIA)).json()
    assert (file["status"], file["applicant"]["first_name"], file["applicant"]["last_name"]) == ("submitted", "Julien", "Moreau")
    assert (file["monthly_resources_cents"], file["monthly_charges_cents"], file["project"]["purpose"]) == (110_000, 70_000, "training")
    funnel = (await intake.http.get("/funnel", params={"from": "2026-03-01", "to": "2026-03-01"}, headers=NADIA)).json()
    assert (funnel["total"]["opened"], funnel["total"]["submitted"]) == (1, 1)
    withdrawn = await intake.http.post(f"/applications/{legacy_id}/withdrawal", json={"reason": "Formation annulée."}, headers=NADIA)
    assert withdrawn.status_code == 200, withdrawn.text
    assert isinstance((await published(intake))[-1], ApplicationWithdrawn)
    trail = (await intake.http.get(f"/applications/{legacy_id}/audit", headers=NADIA)).json()
    assert [line["action"] for line in trail] == ["submitted", "withdrawn"]
