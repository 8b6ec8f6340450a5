"""Realistic intake files and assessment's events about them, for the intake tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.events import ApplicationAssessed, ApplicationRouted, LoanDeclined, new_event
from shared.events import ApplicationAssessedData, ApplicationRoutedData, BudgetDiagnostic, LoanDeclinedData

# The documents of a car loan, all checked by the counsellor on 20 February 2026.
VEHICLE_DOCUMENTS = (
    "identity", "tax_notice", "proof_of_address", "bank_statements", "proof_of_resources", "proof_of_charges",
    "quote", "driving_licence", "insurance_quote",
)


def applicant(**overrides: Any) -> dict[str, Any]:
    """Nadia Benali, 37, lives in Lens."""
    return {
        "first_name": "Nadia",
        "last_name": "Benali",
        "birth_date": "1988-06-14",
        "contact": {"phone": "06 12 34 56 78", "email": "nadia.benali@example.fr"},
        "address": {"street": "12 rue Émile Zola", "postcode": "62300", "city": "Lens"},
        "over_indebted": False,
        **overrides,
    }


def complete_file(**overrides: Any) -> dict[str, Any]:
    """Nadia Benali's whole file: 3,000 € over 36 months for a used car to reach her job; every document verified.

    Resources 1,350 € (salary 980 €, family allowances 148 €, RSA 222 €); charges 820 €.
    """
    return {
        "applicant": applicant(),
        "household": {"adults": 1, "children_ages": [9, 15]},
        "resources": {"salary": 98_000, "family_allowances": 14_800, "rsa": 22_200},
        "charges": {"rent": 52_000, "energy": 9_500, "insurance": 6_500, "telephone": 3_000, "transport": 11_000},
        "project": {
            "purpose": "vehicle",
            "description": "Clio d'occasion pour rejoindre le CDI à l'entrepôt de Douvrin (horaires de nuit)",
            "supplier": "Garage Dupont, Lens",
            "quote_cents": 420_000,
        },
        "amount_cents": 300_000,
        "duration_months": 36,
        "referral_source": "ccas",
        "branch_id": "lens-centre",
        "documents": {kind: {"status": "verified", "on": "2026-02-20"} for kind in VEHICLE_DOCUMENTS},
        **overrides,
    }


def first_appointment() -> dict[str, Any]:
    """What a counsellor knows after the first appointment: who, and roughly what for."""
    return {
        "applicant": {"first_name": "Nadia", "last_name": "Benali", "contact": {"phone": "06 12 34 56 78"}},
        "project": {"purpose": "vehicle", "description": "Voiture pour aller travailler"},
    }


OWNER = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-lefebvre"}
DIAGNOSTIC = BudgetDiagnostic(
    monthly_resources_cents=135_000, monthly_charges_cents=82_000, monthly_instalment_cents=8_791,
    remaining_after_instalment_cents=44_209,
)


def assessed(application_id: UUID, at: datetime, outcome: str = "favourable", **owner: str) -> ApplicationAssessed:
    """Assessment's `application assessed` for the file."""
    data = ApplicationAssessedData(
        **{**OWNER, **owner}, application_id=application_id, outcome=outcome, diagnostic=DIAGNOSTIC,
        opinion="Projet cohérent : CDI à 25 km sans transport en commun la nuit.",
        bank_id="credit-mutuel-nord" if outcome == "favourable" else None,
    )
    return new_event(ApplicationAssessed, source="/services/assessment", subject=str(application_id), time=at, data=data)


def routed(application_id: UUID, at: datetime, **owner: str) -> ApplicationRouted:
    """Assessment's `application routed` to Crédit Mutuel Nord."""
    data = ApplicationRoutedData(
        **{**OWNER, **owner}, application_id=application_id, bank_id="credit-mutuel-nord", amount_cents=300_000,
        duration_months=36, annual_rate=Decimal("0.035"),
    )
    return new_event(ApplicationRouted, source="/services/assessment", subject=str(application_id), time=at, data=data)


def declined(application_id: UUID, at: datetime, **owner: str) -> LoanDeclined:
    """The bank declines the file."""
    data = LoanDeclinedData(
        **{**OWNER, **owner}, application_id=application_id, bank_id="credit-mutuel-nord",
        reason="Incident FICP en cours de régularisation.",
    )
    return new_event(LoanDeclined, source="/services/assessment", subject=str(application_id), time=at, data=data)
