"""Assessment's pure rules: the budget diagnostic computed by hand, the checks, the review, the bank's decision."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.assessment.domain.assessment import Assessment, DirectoryTerms, Policy, Status
from services.assessment.domain.checks import CheckName, LoanTerms, Thresholds, evaluate, usury_check, usury_table_warnings
from services.assessment.domain.decision import BankDecisionTerms, NotRoutedToBank, raise_overdue, record_bank_decision
from services.assessment.domain.diagnostic import consumption_units, diagnose
from services.assessment.domain.outcome import Outcome, record_outcome
from services.assessment.domain.review import FicpRecord, open_file, record_ficp, update_file, withdraw
from services.assessment.settings import AssessmentSettings
from shared.auth import Actor
from shared.errors import BusinessRuleError
from shared.events import ApplicationAssessed, ApplicationRouted, BankDecisionOverdue, LoanApproved, LoanDeclined
from shared.events import ApplicationSubmittedData, ApplicationUpdatedData, Household
from shared.usury import UsuryTable

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # caps in force: those of 2025-10-01 (23.49 %, 15.71 %, 8.73 %)
TODAY = NOW.date()
OWNERSHIP = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-lefebvre"}
BANK = "credit-mutuel-nord"
THRESHOLDS = Thresholds(min_remaining_per_unit_cents=300_00, max_instalment_share=Decimal("0.33"))
POLICY = Policy(Decimal("0.035"), THRESHOLDS, (BANK, "la-banque-postale"), UsuryTable.load())
INTAKE = Actor(subject="/services/intake", role="system")
LEFEBVRE = Actor(subject="c-lefebvre", role="counsellor")
CMN = Actor(subject="svc-credit-mutuel-nord", role="bank")


# --- the diagnostic, by hand ----------------------------------------------------------------------


def test_a_single_adult_on_rsa_keeps_too_little_per_unit_after_a_driving_licence_loan() -> None:
    # Sophie Lambert, alone, RSA: 646.52 € (April 2025 amount for one person) − 77.58 € housing
    # allowance deduction (12 %) = 568.94 €; her APL goes to the landlord, so the rent is net of it.
    resources = 568_94
    # Charges: rent 180.00 + energy 62.00 + insurance 18.50 + telephone 19.99 = 280.49 €.
    charges = 180_00 + 62_00 + 18_50 + 19_99
    assert charges == 280_49
    # Loan: 1,200 € over 24 months at 3.5 %: r = 0.035 / 12 = 0.00291667, (1 + r)^24 = 1.07239891,
    # M = 1200 × r × 1.07239891 / 0.07239891 = 51.8433 € → 51.84 €.
    diagnostic = diagnose(resources, charges, Household(adults=1), 1_200_00, 24, Decimal("0.035"))

    assert diagnostic.consumption_units == Decimal(1)  # one adult
    assert diagnostic.monthly_instalment_cents == 51_84
    assert diagnostic.remaining_cents == 288_45  # 568.94 − 280.49
    assert diagnostic.remaining_per_unit_cents == 288_45  # ÷ 1
    assert diagnostic.remaining_after_instalment_cents == 236_61  # 288.45 − 51.84
    assert diagnostic.remaining_after_instalment_per_unit_cents == 236_61
    assert diagnostic.instalment_share == Decimal("0.0911")  # 51.84 / 568.94 = 0.091117 → 9.11 %
    checks = {c.name: c for c in evaluate(diagnostic, LoanTerms(1_200_00, 24, Decimal("0.035")), purpose="driving_licence",
                                          ficp=None, thresholds=THRESHOLDS, usury=POLICY.usury, on=TODAY)}
    assert not checks[CheckName.REMAINING_PER_UNIT].passed  # 236.61 € < 300 €
    assert "236,61 €" in checks[CheckName.REMAINING_PER_UNIT].reason
    assert checks[CheckName.INSTALMENT_SHARE].passed  # 9.11 % ≤ 33 %


def test_a_couple_with_a_child_under_14_and_a_teenager_counts_2_3_units() -> None:
    # Karim and Léa Haddad, children of 9 and 15: 1 (Karim) + 0.5 (Léa) + 0.5 (15 ≥ 14) + 0.3 (9 < 14) = 2.3.
    household = Household(adults=2, children_ages=[9, 15])
    # Resources: salary 1,456.00 + unemployment benefit 820.00 + family allowances 151.05 = 2,427.05 €.
    resources = {"salary": 1_456_00, "unemployment_benefit": 820_00, "family_allowances": 151_05}
    # Charges: rent 780 + energy 140 + water 35 + insurance 68 + telephone 55 + transport 90 = 1,168.00 €.
    charges = {"rent": 780_00, "energy": 140_00, "water": 35_00, "insurance": 68_00, "telephone": 55_00, "transport": 90_00}
    # Loan: 4,000 € over 48 months at 3 %: r = 0.0025, (1.0025)^48 = 1.12732802,
    # M = 4000 × 0.0025 × 1.12732802 / 0.12732802 = 88.5373 € → 88.54 €.
    diagnostic = diagnose(sum(resources.values()), sum(charges.values()), household, 4_000_00, 48, Decimal("0.03"))

    assert consumption_units(household) == Decimal("2.3")
    assert diagnostic.monthly_resources_cents == 2_427_05
    assert diagnostic.monthly_charges_cents == 1_168_00
    assert diagnostic.monthly_instalment_cents == 88_54
    assert diagnostic.remaining_cents == 1_259_05  # 2,427.05 − 1,168.00
    assert diagnostic.remaining_per_unit_cents == 547_41  # 1,259.05 / 2.3 = 547.413 → 547.41
    assert diagnostic.remaining_after_instalment_cents == 1_170_51  # 1,259.05 − 88.54
    assert diagnostic.remaining_after_instalment_per_unit_cents == 508_92  # 1,170.51 / 2.3 = 508.917 → 508.92 (half up)
    assert diagnostic.instalment_share == Decimal("0.0365")  # 88.54 / 2,427.05 = 0.036480 → 3.65 %


def test_a_pensioner_alone_keeps_enough_after_a_loan_for_hearing_aids() -> None:
    # Monique Garnier, 72, alone: pension 1,034.28 €. Charges: rent 450 + energy 95 + top-up health
    # insurance 78 + telephone 30 = 653.00 €. Loan: 2,000 € over 36 months at 4 %: r = 0.00333333,
    # (1 + r)^36 = 1.12727187, M = 2000 × r × 1.12727187 / 0.12727187 = 59.0480 € → 59.05 €.
    diagnostic = diagnose(1_034_28, 653_00, None, 2_000_00, 36, Decimal("0.04"))

    assert diagnostic.consumption_units == Decimal(1)  # no household given: one adult
    assert diagnostic.monthly_instalment_cents == 59_05
    assert diagnostic.remaining_cents == 381_28  # 1,034.28 − 653.00
    assert diagnostic.remaining_after_instalment_per_unit_cents == 322_23  # 381.28 − 59.05, ≥ 300 €
    assert diagnostic.instalment_share == Decimal("0.0571")  # 59.05 / 1,034.28 = 0.057093 → 5.71 %


def test_a_negative_half_cent_per_unit_rounds_away_from_zero() -> None:
    # 3 adults = 1 + 0.5 + 0.5 = 2 units; remaining −1 cent / 2 = −0.5 cent → −1 cent (half up, away from zero).
    diagnostic = diagnose(100_00, 100_01, Household(adults=3), 0, 12, Decimal(0))

    assert diagnostic.remaining_per_unit_cents == -1


# --- the checks at their thresholds ---------------------------------------------------------------


def _check(name: CheckName, resources: int, charges: int, terms: LoanTerms = LoanTerms(1_200_00, 24, Decimal("0.035")),
           purpose: str = "vehicle") -> Any:
    diagnostic = diagnose(resources, charges, None, terms.amount_cents, terms.duration_months, terms.annual_rate)
    results = evaluate(diagnostic, terms, purpose=purpose, ficp=None, thresholds=THRESHOLDS, usury=POLICY.usury, on=TODAY)
    return next(c for c in results if c.name == name)


@pytest.mark.parametrize(("charges", "passed"), [(648_16, True), (648_17, False)], ids=["300.00 € left", "299.99 € left"])
def test_the_remaining_per_unit_check_passes_at_the_minimum_and_fails_a_cent_below(charges: int, passed: bool) -> None:
    # 1,000.00 € − charges − 51.84 € instalment = 300.00 € (or 299.99 €) for one unit.
    assert _check(CheckName.REMAINING_PER_UNIT, 1_000_00, charges).passed is passed


@pytest.mark.parametrize(("resources", "passed"), [(157_07, True), (157_06, False)], ids=["33.00 %", "33.01 %"])
def test_the_instalment_share_check_compares_the_share_shown(resources: int, passed: bool) -> None:
    # 51.84 / 157.07 = 0.330044 → 33.00 % (passes); 51.84 / 157.06 = 0.330065 → 33.01 % (fails).
    assert _check(CheckName.INSTALMENT_SHARE, resources, 0).passed is passed


def test_no_resources_fails_the_instalment_share_check() -> None:
    assert not _check(CheckName.INSTALMENT_SHARE, 0, 0).passed


@pytest.mark.parametrize(("amount_cents", "passed"), [(3_000_00, True), (3_000_01, False)], ids=["3,000.00 €", "3,000.01 €"])
def test_the_usury_cap_is_the_one_of_the_amount_band(amount_cents: int, passed: bool) -> None:
    # 16 % nominal over 36 months: TAEG 17.2269 %, under 23.49 % (≤ 3,000 €) but over 15.71 % (3,000–6,000 €).
    result = usury_check(LoanTerms(amount_cents, 36, Decimal("0.16")), POLICY.usury, TODAY)

    assert result.passed is passed
    assert "TAEG 17,22" in result.reason


def test_a_purpose_outside_insertion_fails_the_purpose_check() -> None:
    assert _check(CheckName.PURPOSE, 2_000_00, 0, purpose="vehicle").passed
    assert not _check(CheckName.PURPOSE, 2_000_00, 0, purpose="debt_consolidation").passed


def test_a_network_sets_some_thresholds_in_the_directory_and_keeps_the_defaults_for_the_others() -> None:
    settings = AssessmentSettings(oidc_issuer="https://identity.example/realms/microcredit")
    restos = DirectoryTerms(min_remaining_per_unit_cents=250_00, partner_banks=("la-banque-postale",))

    assert settings.policy_for(restos).thresholds == Thresholds(250_00, Decimal("0.33"))
    assert settings.policy_for(restos).partner_banks == ("la-banque-postale",)
    assert settings.policy_for(DirectoryTerms()).thresholds == Thresholds(300_00, Decimal("0.33"))
    assert settings.policy_for(DirectoryTerms(max_instalment_share=Decimal("0.3"))).thresholds == Thresholds(300_00, Decimal("0.3"))


def test_the_usury_table_warns_only_once_a_quarter_starts_without_its_caps() -> None:
    table = POLICY.usury  # its newest quarter starts on 1 January 2026

    assert usury_table_warnings(table.freshness(date(2026, 3, 31))) == []
    assert usury_table_warnings(table.freshness(date(2026, 10, 5))) == [
        "Taux d'usure : la table s'arrête au trimestre du 01/01/2026 ; les taux du trimestre du 01/10/2026"
        " ne sont pas enregistrés, ceux du 01/01/2026 sont appliqués."
    ]


# --- the file and its review ----------------------------------------------------------------------


def file_data(**overrides: Any) -> ApplicationSubmittedData:
    """Sophie Lambert's file: RSA 568.94 €, 280.49 € of charges, a 1,200 € driving licence over 24 months."""
    return ApplicationSubmittedData(**{
        **OWNERSHIP, "application_id": uuid4(), "applicant_name": "Sophie Lambert", "purpose": "driving_licence",
        "amount_cents": 1_200_00, "duration_months": 24, "monthly_resources_cents": 568_94, "monthly_charges_cents": 280_49,
        "birth_date": date(1994, 11, 3), "household": Household(adults=1), "resources": {"rsa": 568_94},
        "charges": {"rent": 180_00, "energy": 62_00, "insurance": 18_50, "telephone": 19_99}, **overrides,
    })


def pending(**overrides: Any) -> Assessment:
    return open_file(file_data(**overrides), POLICY, INTAKE, NOW).assessment


def consulted(file: Assessment | None = None, result: str = "not_registered") -> Assessment:
    record = FicpRecord(consulted_on=TODAY, result=result)
    return record_ficp(file or pending(), record, POLICY, LEFEBVRE, NOW).assessment


JUSTIFICATION = "Promesse d'embauche en CDI (aide à domicile) dès l'obtention du permis : +1 150 € nets par mois."


def favourable(**overrides: Any) -> Outcome:
    return Outcome(**{
        "outcome": "favourable", "opinion": "Le permis conditionne une embauche ferme ; budget suivi depuis un an.",
        "bank_id": BANK, "amount_cents": 1_200_00, "duration_months": 24, "annual_rate": Decimal("0.035"),
        "overrides": {"remaining_per_unit": JUSTIFICATION}, **overrides,
    })


def routed() -> Assessment:
    return record_outcome(consulted(), favourable(), POLICY, LEFEBVRE, NOW).assessment


def test_a_submitted_file_waits_for_review_with_its_diagnostic_and_checks() -> None:
    file = pending()

    assert file.status is Status.PENDING_REVIEW
    assert file.diagnostic.remaining_after_instalment_per_unit_cents == 236_61
    assert {c.name: c.passed for c in file.checks} == {
        "remaining_per_unit": False, "instalment_share": True, "usury_cap": True, "ficp": False, "purpose": True,
    }


def test_an_old_event_without_household_nor_breakdown_counts_one_adult_and_its_totals() -> None:
    file = pending(household=None, resources=None, charges=None, birth_date=None)

    assert file.diagnostic.consumption_units == Decimal(1)
    assert (file.monthly_resources_cents, file.monthly_charges_cents) == (568_94, 280_49)


def test_routing_needs_the_ficp_consultation() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(pending(), favourable(), POLICY, LEFEBVRE, NOW)
    assert (refused.value.field, refused.value.rule) == ("ficp", "ficp_required")
    assert "L.312-16" in refused.value.detail


def test_a_favourable_outcome_with_every_check_passed_or_overridden_routes_the_file() -> None:
    change = record_outcome(consulted(), favourable(), POLICY, LEFEBVRE, NOW)

    assert change.assessment.status is Status.ROUTED
    assert change.assessment.routed_at == NOW
    assessed, routed_event = change.events
    assert isinstance(assessed, ApplicationAssessed) and isinstance(routed_event, ApplicationRouted)
    assert (routed_event.data.bank_id, routed_event.data.amount_cents) == (BANK, 1_200_00)
    overridden = {c.name: c for c in assessed.data.checks if c.overridden}
    assert overridden["remaining_per_unit"].justification == JUSTIFICATION
    assert assessed.data.diagnostic.consumption_units == Decimal(1)
    assert [e.action for e in change.audit] == ["outcome_recorded", "check_overridden", "routed"]
    assert change.audit[1].details["justification"] == JUSTIFICATION


def test_a_failed_check_without_override_stops_the_routing() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(consulted(), favourable(overrides={}), POLICY, LEFEBVRE, NOW)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("checks.remaining_per_unit", "check_failed", 422)


def test_an_override_needs_a_written_justification() -> None:
    with pytest.raises(ValidationError, match="overrides"):
        favourable(overrides={"remaining_per_unit": ""})
    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(consulted(), favourable(overrides={"remaining_per_unit": "   "}), POLICY, LEFEBVRE, NOW)
    assert (refused.value.field, refused.value.rule) == ("overrides.remaining_per_unit", "justification_required")


def test_the_usury_cap_cannot_be_overridden() -> None:
    usurious = favourable(amount_cents=3_000_01, duration_months=36, annual_rate=Decimal("0.16"),
                          overrides={"usury_cap": "Le client accepte le taux."})

    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(consulted(pending(amount_cents=3_000_01)), usurious, POLICY, LEFEBVRE, NOW)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("overrides.usury_cap", "not_overridable", 422)
    assert "cannot be overridden" in refused.value.detail and "L.314-6" in refused.value.detail


def test_a_check_that_passed_cannot_be_overridden() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(consulted(), favourable(overrides={"remaining_per_unit": JUSTIFICATION, "purpose": JUSTIFICATION}),
                       POLICY, LEFEBVRE, NOW)
    assert (refused.value.field, refused.value.rule) == ("overrides.purpose", "not_failed")


def test_a_registered_applicant_is_routed_only_with_a_justified_override() -> None:
    file = consulted(result="registered")

    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(file, favourable(), POLICY, LEFEBVRE, NOW)
    assert refused.value.field == "checks.ficp"
    overrides = {"remaining_per_unit": JUSTIFICATION, "ficp": "Plan Banque de France respecté depuis 18 mois."}
    assert record_outcome(file, favourable(overrides=overrides), POLICY, LEFEBVRE, NOW).assessment.status is Status.ROUTED


def test_only_a_partner_bank_of_the_association_can_receive_the_file() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(consulted(), favourable(bank_id="bnp-paribas-lille"), POLICY, LEFEBVRE, NOW)
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("bank_id", "partner_bank", 422)


def test_the_ficp_consultation_cannot_be_dated_in_the_future() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        record_ficp(pending(), FicpRecord(consulted_on=TODAY + timedelta(days=1), result="not_registered"), POLICY, LEFEBVRE, NOW)
    assert (refused.value.field, refused.value.rule) == ("consulted_on", "not_future")


@pytest.mark.parametrize("missing", ["reason_codes", "orientation"])
def test_an_unfavourable_outcome_needs_reason_codes_and_an_orientation(missing: str) -> None:
    fields = {"outcome": "unfavourable", "opinion": "Reste à vivre trop faible.", "reason_codes": ["insufficient_remaining"],
              "orientation": "budget_coaching", missing: None if missing == "orientation" else []}
    with pytest.raises(ValidationError, match=missing):
        Outcome(**fields)


def test_an_unfavourable_outcome_proposes_an_orientation_instead() -> None:
    outcome = Outcome(outcome="unfavourable", opinion="Surendettement probable.", reason_codes=["over_indebtedness"],
                      orientation="over_indebtedness_file")

    change = record_outcome(consulted(), outcome, POLICY, LEFEBVRE, NOW)

    assert change.assessment.status is Status.UNFAVOURABLE
    [event] = change.events
    assert (event.data.reason_codes, event.data.orientation, event.data.bank_id) == (["over_indebtedness"], "over_indebtedness_file", None)


def test_an_incomplete_outcome_needs_the_missing_items_and_returns_to_review_on_update() -> None:
    with pytest.raises(ValidationError, match="missing_items"):
        Outcome(outcome="incomplete", opinion="Pièces manquantes.")
    file = pending()
    incomplete = record_outcome(file, Outcome(outcome="incomplete", opinion="Avis de non-imposition manquant.",
                                              missing_items=["tax_notice"]), POLICY, LEFEBVRE, NOW)
    assert incomplete.assessment.status is Status.INCOMPLETE
    assert incomplete.events[0].data.missing_documents == ["tax_notice"]

    update = ApplicationUpdatedData(**file_data(application_id=file.application_id).model_dump(), changed_fields=["documents.tax_notice"])
    change = update_file(incomplete.assessment, update, update.changed_fields, POLICY, INTAKE, NOW + timedelta(days=3))

    assert change is not None and change.assessment.status is Status.PENDING_REVIEW
    assert change.assessment.missing_items == []


@pytest.mark.parametrize("extra", [{"bank_id": BANK}, {"missing_items": ["quote"]}], ids=["a bank", "missing items"])
def test_an_outcome_refuses_the_fields_of_another_outcome(extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="only for"):
        Outcome(outcome="unfavourable", opinion="Non.", reason_codes=["project_not_viable"], orientation="social_aid", **extra)


def test_a_file_is_assessed_only_once() -> None:
    with pytest.raises(BusinessRuleError) as refused:
        record_outcome(routed(), favourable(), POLICY, LEFEBVRE, NOW)
    assert (refused.value.rule, refused.value.status) == ("state", 409)


def test_a_withdrawn_file_is_closed_and_a_late_update_changes_nothing() -> None:
    change = withdraw(routed(), "A trouvé un emploi avec véhicule de fonction.", "c-lefebvre", INTAKE, NOW)

    assert change is not None and change.assessment.status is Status.WITHDRAWN
    update = ApplicationUpdatedData(**file_data().model_dump(), changed_fields=["amount_cents"])
    assert update_file(change.assessment, update, [], POLICY, INTAKE, NOW) is None


# --- the bank's decision --------------------------------------------------------------------------


APPROVAL_JSON = {"decision": "approve", "amount_cents": 1_200_00, "annual_rate": "0.035", "duration_months": 24,
                 "first_due_date": "2026-04-05"}


def approval(**overrides: Any) -> BankDecisionTerms:
    return BankDecisionTerms(**{"decision": "approve", "amount_cents": 1_200_00, "annual_rate": Decimal("0.035"),
                                "duration_months": 24, "first_due_date": date(2026, 4, 5), **overrides})


def test_the_routed_bank_approves_with_the_fcs_guarantee_on_half_the_amount() -> None:
    change = record_bank_decision(routed(), BANK, approval(amount_cents=1_150_01), POLICY.usury, CMN, NOW, channel="http")

    assert change.assessment.status is Status.APPROVED
    assert (change.assessment.guarantee_share, change.assessment.guaranteed_amount_cents) == (Decimal("0.5"), 575_01)  # 575.005 → 575.01
    [event] = change.events
    assert isinstance(event, LoanApproved)
    assert (event.data.amount_cents, event.data.guarantee_share, event.data.first_due_date) == (1_150_01, Decimal("0.5"), date(2026, 4, 5))


def test_the_routed_bank_declines_with_a_reason() -> None:
    change = record_bank_decision(routed(), BANK, BankDecisionTerms(decision="decline", reason="Incident de paiement récent."),
                                  POLICY.usury, CMN, NOW, channel="kafka")

    assert change.assessment.status is Status.DECLINED
    assert isinstance(change.events[0], LoanDeclined)
    assert change.audit[0].details["channel"] == "kafka"


def test_a_bank_the_file_is_not_routed_to_cannot_decide() -> None:
    with pytest.raises(NotRoutedToBank) as refused:
        record_bank_decision(routed(), "la-banque-postale", approval(), POLICY.usury, CMN, NOW, channel="http")
    assert refused.value.status == 404


def test_a_bank_decides_once_and_the_same_decision_again_changes_nothing() -> None:
    decided = record_bank_decision(routed(), BANK, approval(), POLICY.usury, CMN, NOW, channel="http").assessment

    assert record_bank_decision(decided, BANK, approval(), POLICY.usury, CMN, NOW + timedelta(hours=1), channel="kafka") is None
    with pytest.raises(BusinessRuleError) as refused:
        record_bank_decision(decided, BANK, approval(amount_cents=1_000_00), POLICY.usury, CMN, NOW, channel="http")
    assert (refused.value.rule, refused.value.status) == ("already_decided", 409)
    declined = BankDecisionTerms(decision="decline", reason="Finalement refusé.")
    with pytest.raises(BusinessRuleError) as refused:
        record_bank_decision(decided, BANK, declined, POLICY.usury, CMN, NOW, channel="kafka")
    assert (refused.value.rule, refused.value.status) == ("already_decided", 409)


@pytest.mark.parametrize("first_due_date", [TODAY, TODAY - timedelta(days=1)], ids=["today", "yesterday"])
def test_the_first_instalment_falls_due_in_the_future(first_due_date: date) -> None:
    with pytest.raises(BusinessRuleError) as refused:
        record_bank_decision(routed(), BANK, approval(first_due_date=first_due_date), POLICY.usury, CMN, NOW, channel="http")
    assert (refused.value.field, refused.value.rule, refused.value.status) == ("first_due_date", "future_date", 422)


def test_a_bank_cannot_approve_usurious_terms() -> None:
    # 1,200 € at 20 % over 6 months: TAEG 21.9 %, under 23.49 %; 8,000 € would be over 8.73 %.
    assert record_bank_decision(routed(), BANK, approval(annual_rate=Decimal("0.2"), duration_months=6), POLICY.usury, CMN, NOW,
                                channel="http").assessment.status is Status.APPROVED
    with pytest.raises(BusinessRuleError) as refused:
        record_bank_decision(routed(), BANK, approval(amount_cents=8_000_00, annual_rate=Decimal("0.2")), POLICY.usury, CMN, NOW,
                             channel="http")
    assert (refused.value.field, refused.value.rule) == ("annual_rate", "usury_cap")


@pytest.mark.parametrize(("decision", "missing"), [("approve", "first_due_date"), ("approve", "annual_rate"), ("decline", "reason")])
def test_a_bank_decision_must_be_complete(decision: str, missing: str) -> None:
    fields = {"decision": decision, "amount_cents": 1_200_00, "annual_rate": Decimal("0.035"), "duration_months": 24,
              "first_due_date": date(2026, 4, 5), "reason": "Capacité insuffisante.", missing: None}
    with pytest.raises(ValidationError, match=missing):
        BankDecisionTerms(**fields)


@pytest.mark.parametrize(
    ("rate", "expected"), [("0.035", "0.035"), (0.035, "0.035"), ("0.2", "0.2"), ("0", "0"), ("0.000001", "0.000001")]
)
def test_a_rate_is_read_from_a_decimal_string_or_a_number(rate: Any, expected: str) -> None:
    terms = BankDecisionTerms.model_validate_json(json.dumps({**APPROVAL_JSON, "annual_rate": rate}))

    assert terms.annual_rate == Decimal(expected)


@pytest.mark.parametrize(
    ("changes", "loc", "rule"),
    [
        ({"annual_rate": "3.5E-2"}, "annual_rate", "string_pattern_mismatch"),
        ({"annual_rate": ".035"}, "annual_rate", "string_pattern_mismatch"),
        ({"annual_rate": "0.0350000"}, "annual_rate", "string_pattern_mismatch"),
        ({"annual_rate": "0.21"}, "annual_rate", "less_than_equal"),
        ({"annual_rate": 0.0350001}, "annual_rate", "decimal_max_places"),
        ({"annual_rate": True}, "annual_rate", "decimal_type"),
        ({"amount_cents": "120000"}, "amount_cents", "int_type"),
        ({"duration_months": 24.5}, "duration_months", "int_from_float"),
        ({"duration_months": True}, "duration_months", "int_type"),
        ({"first_due_date": 20260405}, "first_due_date", "date_type"),
    ],
    ids=["exponent", "no leading zero", "seven decimals written", "above 20 %", "seven decimals", "a flag",
         "amount as a string", "months with a fraction", "months as a flag", "date as a number"],
)
def test_a_bank_decision_is_read_only_as_json_writes_it(changes: dict[str, Any], loc: str, rule: str) -> None:
    with pytest.raises(ValidationError) as error:
        BankDecisionTerms.model_validate_json(json.dumps({**APPROVAL_JSON, **changes}))

    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [((loc,), rule)]


# --- the overdue timer ----------------------------------------------------------------------------


def test_a_bank_decision_is_overdue_30_days_after_routing_once() -> None:
    file, after, timer = routed(), timedelta(days=30), Actor.system("timer")

    assert raise_overdue(file, NOW + timedelta(days=29, hours=23), after, timer) is None
    change = raise_overdue(file, NOW + timedelta(days=30), after, timer)
    assert change is not None
    [event] = change.events
    assert isinstance(event, BankDecisionOverdue)
    assert (event.data.routed_on, event.data.days_waiting, event.data.bank_id) == (TODAY, 30, BANK)
    assert raise_overdue(change.assessment, NOW + timedelta(days=31), after, timer) is None


def test_a_decided_file_is_never_overdue() -> None:
    decided = record_bank_decision(routed(), BANK, approval(), POLICY.usury, CMN, NOW, channel="http").assessment

    assert raise_overdue(decided, NOW + timedelta(days=90), timedelta(days=30), Actor.system("timer")) is None
