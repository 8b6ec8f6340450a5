"""What people read: the services' codes in plain French, and the French formats as template filters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from opentelemetry import trace

from shared import french

PARIS = ZoneInfo("Europe/Paris")

FILE_STATUS = {
    "draft": "Brouillon", "submitted": "En cours d'instruction", "favourable": "Avis favorable",
    "unfavourable": "Avis défavorable", "returned_incomplete": "À compléter", "routed": "Transmis à la banque",
    "approved": "Prêt accordé", "declined": "Refusé par la banque", "withdrawn": "Abandonné",
}
# Where a file stands in the privacy service's ledger (the file's steps, then its loan's).
LEDGER_STATUS = {
    **{k: FILE_STATUS[k] for k in ("submitted", "withdrawn", "unfavourable", "declined", "approved")},
    "active": "Prêt en cours de remboursement", "closed": "Prêt remboursé", "written_off": "Prêt passé en perte",
}
ALERT_STATUS = {"open": "À traiter", "acknowledged": "Pris en compte", "snoozed": "Reporté", "resolved": "Résolu"}
SEVERITY = {"info": "Information", "warning": "Attention", "critical": "Urgent"}
ROLE = {
    "counsellor": "Conseillère ou conseiller", "supervisor": "Responsable d'association", "bank": "Chargé·e de clientèle (banque)",
    "ops": "Exploitation", "admin": "Administration de l'annuaire", "dpo": "Délégué·e à la protection des données",
}
PURPOSE = french.PURPOSES


def euros(cents: int | None) -> str:
    """`1 234,56 €`; a dash when unknown."""
    return "—" if cents is None else french.euros(int(cents))


def day(value: str | date | None) -> str:
    """`30/11/2026`; a dash when unknown."""
    if value is None:
        return "—"
    parsed = value if isinstance(value, date) else datetime.fromisoformat(value)
    return french.day(parsed.astimezone(PARIS).date() if isinstance(parsed, datetime) else parsed)


def moment(value: str | datetime | None) -> str:
    """`30/11/2026 à 09:15`, Paris time; a dash when unknown."""
    if value is None:
        return "—"
    return french.moment(value if isinstance(value, datetime) else datetime.fromisoformat(value), PARIS)


def rate(value: str | None) -> str:
    """"0.035" → `3,5 %`, as an offer writes it; a dash when unknown."""
    return "—" if value is None else french.rate(Decimal(str(value)))


def stage(value: str) -> str:
    """A delinquency stage in words."""
    return french.stage(value)


RESOURCE = {
    "salary": "Salaire", "unemployment_benefit": "Allocation chômage", "rsa": "RSA", "family_allowances": "Allocations familiales",
    "pension": "Retraite ou pension", "disability_allowance": "Allocation adulte handicapé", "other": "Autres ressources",
}
CHARGE = {
    "rent": "Loyer", "energy": "Énergie (électricité, gaz)", "water": "Eau", "insurance": "Assurances", "telephone": "Téléphone et internet",
    "transport": "Transports", "child_care": "Garde d'enfants", "loan_repayments": "Crédits en cours", "other": "Autres charges",
}
REFERRAL = {
    "banque_de_france": "Banque de France", "point_conseil_budget": "Point conseil budget", "ccas": "CCAS",
    "social_worker": "Travailleur social", "self": "La personne elle-même", "other": "Autre",
}
DOCUMENT = {
    "identity": "Pièce d'identité", "tax_notice": "Avis d'imposition ou de non-imposition", "proof_of_address": "Justificatif de domicile",
    "bank_statements": "Relevés bancaires des 3 derniers mois", "proof_of_resources": "Justificatifs de ressources",
    "proof_of_charges": "Justificatifs de charges", "quote": "Devis", "driving_licence": "Permis de conduire",
    "insurance_quote": "Devis d'assurance", "over_indebtedness_plan": "Plan de surendettement (Banque de France)",
}
DOCUMENT_STATUS = {"missing": "Manquant", "received": "Reçu", "verified": "Vérifié", "expired": "Périmé"}
CHECK = {
    "remaining_per_unit": "Reste à vivre par unité de consommation", "instalment_share": "Part de la mensualité dans les ressources",
    "usury_cap": "Taux d'usure", "ficp": "Consultation du FICP", "purpose": "Projet d'insertion",
}
UNFAVOURABLE = {
    "insufficient_remaining": "Reste à vivre insuffisant", "excessive_instalment": "Mensualité trop lourde",
    "over_indebtedness": "Surendettement", "unstable_resources": "Ressources instables", "project_not_eligible": "Projet non éligible",
    "project_not_viable": "Projet non viable", "ficp_registered": "Inscription au FICP", "applicant_not_ready": "Personne pas prête",
}
ORIENTATION = {"social_aid": "Aide sociale", "budget_coaching": "Accompagnement budgétaire", "over_indebtedness_file": "Dossier de surendettement"}
ASSESSMENT_STATUS = {
    "pending_review": "À instruire", "incomplete": "Incomplet", "unfavourable": "Avis défavorable", "routed": "Transmis à la banque",
    "approved": "Prêt accordé", "declined": "Refusé par la banque", "withdrawn": "Abandonné",
}


# The menu of each role: where a person of that role goes from any page.
NAV = {
    "counsellor": [
        ("/", "Accueil"), ("/premiers-contacts", "Premier contact"), ("/dossiers/nouveau", "Nouveau dossier"), ("/alertes", "Alertes"),
        ("/notice-information", "Notice d'information"),
    ],
    "supervisor": [("/", "Accueil"), ("/pilotage", "Pilotage"), ("/alertes", "Alertes"), ("/premiers-contacts", "Premier contact"), ("/dossiers/nouveau", "Nouveau dossier")],
    "bank": [("/", "Accueil"), ("/banque/abonnements", "Abonnements")],
    "ops": [("/", "Accueil"), ("/exploitation/cloture", "Clôture du jour")],
    "admin": [("/", "Accueil"), ("/annuaire", "Annuaire")],
    "dpo": [("/", "Accueil"), ("/protection-des-donnees", "Droits des personnes"), ("/notice-information", "Notice d'information")],
}
def trace_id() -> str | None:
    """The id of the trace the page is rendered in (its spans in the tracing UI); None when nothing is traced."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


# The directory: its kinds of entries, what a change did, the roles of its contacts.
CONTACT_ROLE = {
    "counsellor": "Conseillère ou conseiller", "supervisor": "Responsable d'association", "bank_officer": "Chargé·e de clientèle (banque)",
    "bank_technical": "Contact technique (banque)",
}
AUDIT_ACTION = {"created": "Création", "changed": "Modification", "deactivated": "Mise hors service", "reactivated": "Remise en service"}
# A bank's webhooks: the events it may receive, where a subscription and a delivery stand.
EVENT_TYPE = {
    "fr.microcredit.application.routed.v1": "Dossier transmis à la banque",
    "fr.microcredit.loan.approved.v1": "Prêt accordé",
    "fr.microcredit.loan.declined.v1": "Prêt refusé",
    "fr.microcredit.loan.disbursed.v1": "Prêt décaissé",
    "fr.microcredit.payment.received.v1": "Paiement reçu",
    "fr.microcredit.payment.reversed.v1": "Paiement annulé",
    "fr.microcredit.payment.missed.v1": "Échéance impayée",
    "fr.microcredit.loan.delinquency.changed.v1": "Changement de stade d'impayé",
    "fr.microcredit.loan.adjustment.requested.v1": "Aménagement demandé",
    "fr.microcredit.loan.adjustment.refused.v1": "Aménagement refusé",
    "fr.microcredit.loan.rescheduled.v1": "Prêt rééchelonné",
    "fr.microcredit.loan.written_off.v1": "Prêt passé en perte",
    "fr.microcredit.loan.closed.v1": "Prêt soldé",
}
SUBSCRIPTION_STATUS = {"active": "Actif", "paused": "En pause (trop d'échecs)"}
DELIVERY_STATUS = {"pending": "À envoyer", "delivered": "Livré", "failed": "Abandonné"}
LOAN_STATUS = {"pending_disbursement": "En attente de décaissement", "active": "En cours", "closed": "Soldé", "written_off": "Passé en perte"}
FILTERS = {"euros": euros, "day": day, "moment": moment, "rate": rate, "stage": stage}
LABELS = {"loan_status": LOAN_STATUS, "file_status": FILE_STATUS, "ledger_status": LEDGER_STATUS, "alert_status": ALERT_STATUS, "severity": SEVERITY, "role": ROLE, "purpose": PURPOSE, "nav": NAV,
    "resource": RESOURCE, "charge": CHARGE, "referral": REFERRAL, "document": DOCUMENT, "document_status": DOCUMENT_STATUS,
    "check": CHECK, "unfavourable": UNFAVOURABLE, "orientation": ORIENTATION, "assessment_status": ASSESSMENT_STATUS,
    "contact_role": CONTACT_ROLE, "audit_action": AUDIT_ACTION, "event_type": EVENT_TYPE, "subscription_status": SUBSCRIPTION_STATUS,
    "delivery_status": DELIVERY_STATUS,
}
