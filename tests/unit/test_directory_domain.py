"""The directory's rules: what an admin may write, the snapshot and audit of each change, what stays in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.directory.domain.changes import Stored, check_association, check_contact, deactivates, put, refuse_deactivation
from services.directory.domain.entities import ASSOCIATION, BANK, NETWORK, AssociationFields, BankFields, ContactFields, NetworkFields
from shared.auth import Actor
from shared.errors import BusinessRuleError
from shared.events import DirectoryNetwork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 2, 16, 10, 0, tzinfo=UTC)
ADMIN = Actor(subject="adm-moreau", role="admin")
CARITAS = {"name": "Secours Catholique – Caritas France", "min_remaining_per_unit_cents": 300_00, "max_instalment_share": "0.33"}


def stored(kind: Any, entity_id: str, *, active: bool = True, **state: Any) -> Stored:
    return Stored(kind, entity_id, state, active, 1, NOW)


def association(**overrides: Any) -> AssociationFields:
    return AssociationFields(**{
        "name": "Secours Catholique – délégation du Pas-de-Calais", "network_id": "secours-catholique-caritas",
        "regions": ["hauts-de-france"], "branches": [{"branch_id": "lens-centre", "name": "Antenne de Lens centre", "region": "hauts-de-france"}],
        "partner_banks": ["credit-mutuel-nord", "la-banque-postale"], "shared_mailbox": "microcredit.hdf@secours-catholique.example",
        **overrides,
    })


def refusal(call: Any, *args: Any) -> tuple[str | None, str, int]:
    with pytest.raises(BusinessRuleError) as refused:
        call(*args)
    return refused.value.field, refused.value.rule, refused.value.status


# --- a change: its version, its snapshot, its audit ------------------------------------------------


def test_creating_a_network_publishes_its_whole_state_as_version_1_and_audits_who_did_it() -> None:
    change = put(NETWORK, "secours-catholique-caritas", NetworkFields(**CARITAS), None, ADMIN, NOW)

    assert change is not None and change.created
    assert isinstance(change.event, DirectoryNetwork)
    assert change.event.subject == "networks/secours-catholique-caritas"
    assert change.event.data.model_dump(mode="json") == {
        "network_id": "secours-catholique-caritas", "name": "Secours Catholique – Caritas France",
        "min_remaining_per_unit_cents": 300_00, "max_instalment_share": "0.33", "active": True, "version": 1,
    }
    assert (change.audit.actor, change.audit.action, change.audit.before, change.audit.at) == ("adm-moreau", "created", None, NOW)
    assert change.audit.after["max_instalment_share"] == "0.33"


def test_the_same_state_again_changes_nothing_even_written_another_way() -> None:
    first = put(NETWORK, "secours-catholique-caritas", NetworkFields(**CARITAS), None, ADMIN, NOW)
    assert first is not None

    again = NetworkFields(**{**CARITAS, "max_instalment_share": 0.33})

    assert put(NETWORK, "secours-catholique-caritas", again, first.stored, ADMIN, NOW + timedelta(hours=1)) is None


def test_a_change_is_the_next_version_and_the_audit_keeps_before_and_after() -> None:
    current = put(NETWORK, "secours-catholique-caritas", NetworkFields(**CARITAS), None, ADMIN, NOW)
    assert current is not None

    change = put(NETWORK, "secours-catholique-caritas", NetworkFields(**{**CARITAS, "max_instalment_share": "0.3"}), current.stored, ADMIN, NOW)

    assert change is not None and not change.created
    assert change.event.data.version == 2
    assert change.audit.action == "changed"
    assert (change.audit.before["max_instalment_share"], change.audit.after["max_instalment_share"]) == ("0.33", "0.3")


def test_deactivating_and_reactivating_are_said_so_in_the_audit() -> None:
    bank = stored(BANK, "la-banque-postale", name="La Banque Postale")

    off = put(BANK, "la-banque-postale", BANK.fields(name="La Banque Postale", active=False), bank, ADMIN, NOW)
    assert off is not None
    on = put(BANK, "la-banque-postale", BANK.fields(name="La Banque Postale"), off.stored, ADMIN, NOW)

    assert (off.audit.action, off.event.data.active, off.event.data.version) == ("deactivated", False, 2)
    assert on is not None and (on.audit.action, on.event.data.active, on.event.data.version) == ("reactivated", True, 3)
    assert deactivates(bank, BANK.fields(name="La Banque Postale", active=False))
    assert not deactivates(off.stored, BANK.fields(name="La Banque Postale", active=False))
    assert not deactivates(None, BANK.fields(name="La Banque Postale", active=False))


# --- what stays in use ------------------------------------------------------------------------------


def test_a_new_bank_needs_an_id_that_can_name_its_kafka_topics() -> None:
    assert put(BANK, "credit-agricole-nord-est", BankFields(name="Crédit Agricole Nord Est"), None, ADMIN, NOW) is not None
    assert refusal(put, BANK, "Credit_Agricole", BankFields(name="Crédit Agricole"), None, ADMIN, NOW) == ("bank_id", "topic_name", 422)


def test_a_bank_with_files_waiting_for_its_decision_cannot_be_deactivated_and_the_refusal_says_how_many() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        refuse_deactivation(BANK, "credit-mutuel-nord", 3)

    assert (refused.value.status, refused.value.field, refused.value.rule) == (409, "active", "files_awaiting_decision")
    assert refused.value.detail.startswith("3 file(s) routed to credit-mutuel-nord wait for its decision")
    refuse_deactivation(BANK, "credit-mutuel-nord", 0)


def test_a_network_with_active_associations_cannot_be_deactivated() -> None:
    assert refusal(refuse_deactivation, NETWORK, "secours-catholique-caritas", 2) == ("active", "network_in_use", 409)


# --- the rules between entities --------------------------------------------------------------------


NETWORK_ON = stored(NETWORK, "secours-catholique-caritas", **CARITAS)
BANKS = {"credit-mutuel-nord", "la-banque-postale"}


def test_an_association_in_a_known_network_with_known_banks_and_branches_in_its_regions_is_accepted() -> None:
    check_association(association(), NETWORK_ON, BANKS)


def test_a_bank_or_a_region_named_twice_is_kept_once_in_the_order_given() -> None:
    fields = association(partner_banks=["la-banque-postale", "credit-mutuel-nord", "la-banque-postale"], regions=["occitanie", "occitanie"])

    assert (fields.partner_banks, fields.regions) == (["la-banque-postale", "credit-mutuel-nord"], ["occitanie"])


@pytest.mark.parametrize(
    ("fields", "network", "expected"),
    [
        (association(network_id="caritas"), None, ("network_id", "unknown_network", 422)),
        (association(), stored(NETWORK, "secours-catholique-caritas", active=False), ("network_id", "inactive_network", 422)),
        (association(partner_banks=["credit-mutuel-nord", "bnp-paribas-lille"]), NETWORK_ON, ("partner_banks.1", "unknown_bank", 422)),
        (association(branches=[{"branch_id": "toulouse", "name": "Toulouse", "region": "occitanie"}]), NETWORK_ON,
         ("branches.0.region", "region_not_listed", 422)),
        (association(branches=[{"branch_id": "arras", "name": "Arras", "region": "hauts-de-france"}] * 2), NETWORK_ON,
         ("branches.1.branch_id", "duplicate_branch", 422)),
    ],
    ids=["unknown network", "inactive network", "a bank that exists nowhere", "a branch outside the regions", "a branch twice"],
)
def test_an_association_naming_what_the_directory_does_not_hold_is_refused_naming_the_field(
    fields: AssociationFields, network: Stored | None, expected: tuple[str, str, int]
) -> None:
    assert refusal(check_association, fields, network, BANKS) == expected


def test_a_deactivated_association_may_stay_in_a_deactivated_network() -> None:
    check_association(association(active=False), stored(NETWORK, "secours-catholique-caritas", active=False), BANKS)


SECOURS = stored(ASSOCIATION, "secours-catholique")
CMN = stored(BANK, "credit-mutuel-nord")


@pytest.mark.parametrize(
    ("fields", "found", "expected"),
    [
        ({"role": "counsellor"}, (SECOURS, None), ("association_id", "required_for_role", 422)),
        ({"role": "supervisor", "association_id": "secours-catholique", "bank_id": "credit-mutuel-nord"}, (SECOURS, CMN),
         ("bank_id", "not_for_role", 422)),
        ({"role": "counsellor", "association_id": "croix-rouge"}, (None, None), ("association_id", "unknown_association", 422)),
        ({"role": "bank_officer", "bank_id": "bnp-paribas-lille"}, (None, None), ("bank_id", "unknown_bank", 422)),
        ({"role": "bank_technical", "association_id": "secours-catholique"}, (SECOURS, None), ("association_id", "not_for_role", 422)),
    ],
    ids=["counsellor without association", "supervisor with a bank", "unknown association", "unknown bank", "bank contact of an association"],
)
def test_a_contact_belongs_to_a_known_association_or_bank_as_its_role_says(
    fields: dict[str, Any], found: tuple[Stored | None, Stored | None], expected: tuple[str, str, int]
) -> None:
    contact = ContactFields(display_name="Claire Lefebvre", email="claire.lefebvre@secours-catholique.example", **fields)

    assert refusal(check_contact, contact, *found) == expected


def test_a_bank_officer_of_a_known_bank_is_accepted() -> None:
    check_contact(ContactFields(display_name="Marc Dubois", email="marc.dubois@credit-mutuel-nord.example", role="bank_officer",
                                bank_id="credit-mutuel-nord"), None, CMN)


# --- what an admin may write ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_instalment_share", "0.6"), ("max_instalment_share", "0.01"), ("max_instalment_share", "0.330000"),
        ("max_instalment_share", True), ("min_remaining_per_unit_cents", -1), ("min_remaining_per_unit_cents", 2_000_01),
        ("min_remaining_per_unit_cents", "30000"), ("name", ""), ("surprise", 1),
    ],
)
def test_a_threshold_out_of_range_or_mistyped_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        NetworkFields(**{**CARITAS, field: value})

    assert [e["loc"] for e in refused.value.errors()][0][0] == field


def test_a_share_reads_as_a_decimal_from_a_string_or_a_number() -> None:
    assert NetworkFields(**{**CARITAS, "max_instalment_share": 0.3}).max_instalment_share == Decimal("0.3")
    assert NetworkFields(**{**CARITAS, "max_instalment_share": "0.5"}).max_instalment_share == Decimal("0.5")


@pytest.mark.parametrize("email", ["claire.lefebvre", "claire@", "claire lefebvre@secours-catholique.example", "claire@secours"])
def test_a_malformed_email_is_refused(email: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ContactFields(display_name="Claire Lefebvre", email=email, role="counsellor", association_id="secours-catholique")

    assert refused.value.errors()[0]["loc"] == ("email",)

