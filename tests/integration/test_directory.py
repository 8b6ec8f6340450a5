"""The directory over HTTP: admins create, change and deactivate; every change audited and published; bad input refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.events import ApplicationRouted, ApplicationRoutedData, ApplicationWithdrawn, ApplicationWithdrawnData, new_event
from tests.integration.conftest import NOW, OWNERSHIP, RunningService, ServiceStarter, loan_approved
from tests.support import directory, tokens
from tests.support.directory_service import ADMIN, fill, published
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

CARITAS = {"name": "Secours Catholique – Caritas France", "min_remaining_per_unit_cents": 300_00, "max_instalment_share": "0.33"}
LBP = {"name": "La Banque Postale"}


@pytest.fixture
async def service(start_service: ServiceStarter) -> RunningService:
    started = await start_service("directory")
    await fill(started)
    await started.fetch("delete from outbox")
    return started


def routed(application_id: UUID, bank_id: str = "la-banque-postale") -> ApplicationRouted:
    """Assessment routed a 3,000 € file to a bank."""
    return new_event(
        ApplicationRouted, source="/services/assessment", subject=str(application_id), time=NOW,
        data=ApplicationRoutedData(**OWNERSHIP, application_id=application_id, bank_id=bank_id, amount_cents=300_000,
                                   duration_months=36, annual_rate=Decimal("0.035")),
    )


def withdrawn(application_id: UUID) -> ApplicationWithdrawn:
    """The applicant withdrew the file."""
    return new_event(
        ApplicationWithdrawn, source="/services/intake", subject=str(application_id), time=NOW,
        data=ApplicationWithdrawnData(**OWNERSHIP, application_id=application_id, reason="A trouvé un CDI avec voiture de fonction",
                                      withdrawn_by="c-lefebvre"),
    )


async def test_an_admin_creates_changes_and_reads_an_entity_and_a_repeated_put_changes_nothing(start_service: ServiceStarter) -> None:
    service = await start_service("directory")

    created = await service.http.put("/networks/secours-catholique-caritas", json=CARITAS, headers=ADMIN)
    repeated = await service.http.put("/networks/secours-catholique-caritas", json={**CARITAS, "max_instalment_share": 0.33}, headers=ADMIN)
    changed = await service.http.put("/networks/secours-catholique-caritas", json={**CARITAS, "max_instalment_share": "0.3"}, headers=ADMIN)
    read = await service.http.get("/networks/secours-catholique-caritas", headers=bearer(tokens.counsellor()))

    assert (created.status_code, repeated.status_code, changed.status_code) == (201, 200, 200)
    assert (created.json()["version"], repeated.json()["version"], changed.json()["version"]) == (1, 1, 2)
    assert read.json() == changed.json()
    assert read.json()["max_instalment_share"] == "0.3"
    events = await published(service)
    assert [(e.subject, e.data.version, e.data.max_instalment_share) for e in events] == [
        ("networks/secours-catholique-caritas", 1, Decimal("0.33")), ("networks/secours-catholique-caritas", 2, Decimal("0.3")),
    ]
    [key] = {r["key"] for r in await service.fetch("select key from outbox")}
    assert key == "networks/secours-catholique-caritas"


async def test_every_change_is_audited_with_who_when_and_the_state_before_and_after(service: RunningService) -> None:
    await service.http.put("/contacts/s-marchand", json={
        "display_name": "Sophie Marchand", "email": "s.marchand@secours-catholique.example", "role": "supervisor",
        "association_id": "secours-catholique",
    }, headers=bearer(tokens.admin("adm-nguyen")))

    audit = await service.http.get("/contacts/s-marchand/audit", headers=ADMIN)

    assert audit.status_code == 200 and audit.headers["X-Total-Count"] == "2"
    created, changed = audit.json()
    assert (created["action"], created["actor"], created["before"]) == ("created", "adm-moreau", None)
    assert (changed["action"], changed["actor"], changed["actor_role"], changed["at"]) == ("changed", "adm-nguyen", "admin", "2026-03-02T08:30:00Z")
    assert (changed["before"]["email"], changed["after"]["email"]) == (directory.SOPHIE, "s.marchand@secours-catholique.example")
    assert changed["after"]["active"] is True


async def test_lists_are_paged_filtered_and_counted(service: RunningService) -> None:
    counsellors = await service.http.get("/contacts", params={"association_id": "secours-catholique", "role": "counsellor"}, headers=ADMIN)
    first = await service.http.get("/contacts", params={"limit": 2}, headers=ADMIN)
    by_bank = await service.http.get("/associations", params={"partner_bank": "la-banque-postale"}, headers=bearer(tokens.bank()))

    assert [c["username"] for c in counsellors.json()] == ["c-lefebvre", "c-roux"]
    assert counsellors.headers["X-Total-Count"] == "2"
    assert ([c["username"] for c in first.json()], first.headers["X-Total-Count"]) == (["c-lefebvre", "c-roux"], "4")
    assert [a["association_id"] for a in by_bank.json()] == ["secours-catholique"]


@pytest.mark.parametrize(
    ("path", "body", "field", "rule"),
    [
        ("/contacts/c-garcia", {"display_name": "Karim Garcia", "email": "karim.garcia@restosducoeur.example", "role": "counsellor",
                                "association_id": "restos-du-coeur"}, "association_id", "unknown_association"),
        ("/associations/restos-du-coeur", {"name": "Restos du Cœur", "network_id": "restos-du-coeur-federation",
                                           "regions": ["occitanie"]}, "network_id", "unknown_network"),
        ("/associations/secours-catholique", {"name": "Secours Catholique", "network_id": "secours-catholique-caritas",
                                              "regions": ["hauts-de-france"], "partner_banks": ["credit-mutuel-nord", "bnp-paribas-lille"]},
         "partner_banks.1", "unknown_bank"),
        ("/contacts/b-dubois", {"display_name": "Marc Dubois", "email": "marc.dubois@credit-mutuel-nord", "role": "bank_officer",
                                "bank_id": "credit-mutuel-nord"}, "email", "value_error"),
        ("/contacts/b-dubois", {"display_name": "Marc Dubois", "email": "marc.dubois@credit-mutuel-nord.example", "role": "bank_officer",
                                "bank_id": "bnp-paribas-lille"}, "bank_id", "unknown_bank"),
        ("/networks/secours-catholique-caritas", {**CARITAS, "max_instalment_share": "0.75"}, "max_instalment_share", "less_than_equal"),
        ("/networks/secours-catholique-caritas", {**CARITAS, "max_instalment_share": 0.75}, "max_instalment_share", "less_than_equal"),
        ("/networks/secours-catholique-caritas", {**CARITAS, "min_remaining_per_unit_cents": -100}, "min_remaining_per_unit_cents",
         "greater_than_equal"),
        ("/networks/secours-catholique-caritas", {**CARITAS, "min_remaining_per_unit_cents": "30000"}, "min_remaining_per_unit_cents", "int_type"),
    ],
    ids=["unknown association", "unknown network", "a bank that exists nowhere", "a malformed e-mail", "an unknown bank of a contact",
         "a share above half written as text", "a share above half written as a number", "a negative reste à vivre", "cents as a string"],
)
async def test_bad_input_answers_a_problem_naming_the_field_and_changes_nothing(
    service: RunningService, path: str, body: dict[str, Any], field: str, rule: str
) -> None:
    before = await service.fetch("select kind, id, version from entities order by kind, id")

    answer = await service.http.put(path, json=body, headers=ADMIN)

    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [(field, rule)]
    assert await service.fetch("select kind, id, version from entities order by kind, id") == before
    assert await published(service) == []


async def test_a_bank_with_files_waiting_for_its_decision_stays_active_and_the_refusal_says_how_many(service: RunningService) -> None:
    waiting, decided, dropped = uuid4(), uuid4(), uuid4()
    for event in (routed(waiting), routed(decided), routed(dropped), routed(uuid4(), "credit-mutuel-nord"),
                  loan_approved(decided, bank_id="la-banque-postale"), withdrawn(dropped)):
        await service.deliver(event)
    await service.deliver(routed(decided))  # a replay of an old routing: the decided file does not wait again

    refused = await service.http.put("/banks/la-banque-postale", json={**LBP, "active": False}, headers=ADMIN)
    await service.deliver(withdrawn(waiting))
    accepted = await service.http.put("/banks/la-banque-postale", json={**LBP, "active": False}, headers=ADMIN)

    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"].startswith("1 file(s) routed to la-banque-postale wait for its decision")
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("active", "files_awaiting_decision")]
    assert (accepted.status_code, accepted.json()["active"], accepted.json()["version"]) == (200, False, 2)
    [event] = await published(service)
    assert (event.subject, event.data.active, event.data.version) == ("banks/la-banque-postale", False, 2)
    audit = (await service.http.get("/banks/la-banque-postale/audit", headers=ADMIN)).json()
    assert [a["action"] for a in audit] == ["created", "deactivated"]


async def test_a_network_keeps_its_active_associations(service: RunningService) -> None:
    refused = await service.http.put("/networks/secours-catholique-caritas", json={**CARITAS, "active": False}, headers=ADMIN)

    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("1 active association(s) belong to the network secours-catholique-caritas")


async def test_an_unknown_entity_answers_404_and_nothing_is_ever_deleted(service: RunningService) -> None:
    unknown = await service.http.get("/banks/bnp-paribas-lille", headers=ADMIN)
    unknown_audit = await service.http.get("/banks/bnp-paribas-lille/audit", headers=ADMIN)
    delete = await service.http.delete("/banks/credit-mutuel-nord", headers=ADMIN)

    assert (unknown.status_code, unknown_audit.status_code) == (404, 404)
    assert delete.status_code == 405 and delete.headers["allow"] == "GET, PUT"
