"""How amounts, dates, rates and document names read in French messages (pure)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

# The checklist items of intake (and assessment's `missing_documents`) as a counsellor names them.
DOCUMENT_LABELS = {
    "identity": "pièce d'identité",
    "tax_notice": "avis d'imposition ou de non-imposition",
    "proof_of_address": "justificatif de domicile",
    "bank_statements": "relevés bancaires",
    "proof_of_resources": "justificatifs de ressources",
    "proof_of_charges": "justificatifs de charges",
    "payslips": "bulletins de salaire",
    "benefit_statements": "attestations CAF, France Travail ou retraite",
    "quote": "devis du fournisseur",
    "driving_licence": "permis de conduire",
    "insurance_quote": "devis d'assurance",
    "over_indebtedness_plan": "plan de surendettement Banque de France",
}

STAGES = {
    "current": "à jour",
    "1-30": "1 à 30 jours de retard",
    "31-60": "31 à 60 jours de retard",
    "61-90": "61 à 90 jours de retard",
    "90+": "plus de 90 jours de retard",
}

SEVERITIES = {"info": "pour information", "warning": "à traiter", "critical": "urgent"}


def euros(cents: int) -> str:
    """1234567 → "12 345,67 €" (narrow no-break space between thousands, decimal comma)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    whole = f"{cents // 100:,}".replace(",", "\u202f")
    return f"{sign}{whole},{cents % 100:02d} €"


def day(value: date) -> str:
    """2026-04-05 → "05/04/2026"."""
    return f"{value:%d/%m/%Y}"


def moment(value: datetime, zone: ZoneInfo) -> str:
    """An instant in the association's time zone: "06/04/2026 à 10:30"."""
    local = value.astimezone(zone)
    return f"{local:%d/%m/%Y} à {local:%H:%M}"


def rate(value: Decimal) -> str:
    """0.035 → "3,5 %"."""
    percent = (value * 100).normalize()
    text = f"{percent:f}".replace(".", ",")
    return f"{text} %"


def documents(keys: list[str]) -> str:
    """The missing documents, in words, in the order given."""
    return ", ".join(DOCUMENT_LABELS.get(k, k.replace("_", " ")) for k in keys)


def stage(value: str) -> str:
    """A delinquency stage in words."""
    return STAGES.get(value, value)
