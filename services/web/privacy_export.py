"""The DPO's export of one data subject: what every service holds, gathered, as JSON and as a document in French.

The workspace asks each service that holds rows about a file (`GET /v1/privacy/subjects/{id}`, DPO only)
and puts the answers side by side; a service that does not answer makes the export fail rather than come
out incomplete. The document (page and PDF) says each row's fields in French, amounts in euros and dates
as `30/11/2026`; the JSON keeps them as the services store them.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from services.web import labels
from services.web.backends import Backends
from shared.privacy.notice import Document, Record, Section

# The services that hold rows about a file, in the order of the file's life.
HOLDERS = ("intake", "assessment", "directory", "servicing", "notifications")
SERVICE_TITLE = {
    "intake": "Accueil et dossier (intake)", "assessment": "Instruction et décision de la banque (assessment)",
    "directory": "Transmission à la banque (directory)", "servicing": "Prêt et remboursements (servicing)",
    "notifications": "Alertes et messages envoyés (notifications)",
}
TABLE_TITLE = {
    "applications": "Dossier", "audit_log": "Journal du dossier", "milestones": "Étapes", "assessments": "Instruction",
    "assessment_audit": "Journal de l'instruction", "routed_files": "Transmission", "loans": "Prêt", "instalments": "Échéances",
    "schedule_versions": "Versions de l'échéancier", "payments": "Paiements", "missed_instalments": "Échéances impayées",
    "adjustments": "Aménagements", "files": "Dossier connu des alertes", "incomplete_files": "Dossier incomplet",
    "loan_followups": "Suivi du prêt", "alerts": "Alertes", "digest_items": "Récapitulatifs", "email_deliveries": "Courriels",
    "webhook_deliveries": "Messages à la banque", "dead_letters": "Messages rejetés (en erreur)",
    "parked_events": "Événements mis en attente", "idempotency_keys": "Réponses gardées pour une requête renvoyée",
}
FIELD = {
    "id": "Identifiant", "application_id": "Dossier", "loan_id": "Prêt", "status": "État", "association_id": "Association",
    "region": "Région", "branch_id": "Antenne", "counsellor_id": "Conseiller", "applicant_name": "Nom", "applicant": "Personne",
    "first_name": "Prénom", "last_name": "Nom de famille", "birth_date": "Date de naissance", "contact": "Contact",
    "phone": "Téléphone", "email": "Courriel", "address": "Adresse", "street": "Rue", "postcode": "Code postal", "city": "Commune",
    "over_indebted": "Plan de surendettement", "household": "Foyer", "adults": "Adultes", "children_ages": "Âges des enfants",
    "resources": "Ressources", "charges": "Charges", "project": "Projet", "purpose": "Objet", "description": "Description",
    "supplier": "Fournisseur", "quote_cents": "Devis", "amount_cents": "Montant", "duration_months": "Durée (mois)",
    "referral_source": "Orienté par", "documents": "Pièces", "incomplete_reason": "Ce qui manque", "created_at": "Créé le",
    "created_by": "Créé par", "updated_at": "Mis à jour le", "submitted_at": "Transmis le", "withdrawn_at": "Abandonné le",
    "withdrawal_reason": "Raison de l'abandon", "withdrawn_by": "Abandonné par", "decided_at": "Décidé le",
    "monthly_resources_cents": "Ressources mensuelles", "monthly_charges_cents": "Charges mensuelles", "at": "Le",
    "actor_subject": "Par", "actor": "Par", "actor_role": "Rôle", "action": "Action", "details": "Détails", "milestone": "Étape",
    "opinion": "Avis écrit", "orientation": "Orientation", "diagnostic": "Diagnostic budgétaire", "checks": "Contrôles",
    "ficp": "Consultation du FICP", "bank_id": "Banque", "annual_rate": "Taux annuel", "first_due_date": "Première échéance",
    "guarantee_share": "Part garantie (FCS)", "payee": "Versé à", "disbursed_on": "Versé le", "closed_on": "Soldé le",
    "written_off_on": "Passé en perte le", "number": "N°", "due_date": "Échéance", "paid_cents": "Payé",
    "received_on": "Reçu le", "bank_reference": "Référence bancaire", "reason": "Motif", "message": "Message",
    "raised_at": "Levée le", "subject": "Objet", "body": "Texte", "recipients": "Destinataires", "sent_at": "Envoyé le",
    "event_type": "Événement", "closed": "Clos",
}
# Codes said in words: everywhere, and per table for a status.
_CODES = {"purpose": labels.PURPOSE, "referral_source": labels.REFERRAL, "severity": labels.SEVERITY, "orientation": labels.ORIENTATION}
_VALUES = {
    "applications": {"status": labels.FILE_STATUS}, "assessments": {"status": labels.ASSESSMENT_STATUS},
    "loans": {"status": labels.LOAN_STATUS}, "alerts": {"status": labels.ALERT_STATUS},
}
_AMOUNTS = {"resources": labels.RESOURCE, "charges": labels.CHARGE}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


async def gather(backends: Backends, token: str, application_id: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each holder's records of the subject, by service; a `BackendError` if any does not answer."""
    path = f"/v1/privacy/subjects/{application_id}"
    answers = await asyncio.gather(*(backends.call(service, "GET", path, token) for service in HOLDERS))
    return {answer["service"]: answer["records"] for answer in answers}


def export_json(application_id: str, records: dict[str, Any], *, at: datetime, by: str) -> dict[str, Any]:
    """The export as one JSON document: who asked, when, and every service's rows."""
    return {"subject_id": application_id, "exported_at": at.isoformat(), "exported_by": by, "services": records}


def applicant_name(records: dict[str, Any]) -> str | None:
    """The person's name, as intake holds it."""
    files = records.get("intake", {}).get("applications", [])
    return files[0].get("applicant_name") if files else None


def export_document(application_id: str, records: dict[str, Any], *, at: datetime, by: str) -> Document:
    """The export in French: one section per service, each row a record of `Libellé : valeur`."""
    name = applicant_name(records) or "personne inconnue"
    sections = []
    for service in HOLDERS:
        tables = records.get(service, {})
        found: list[Record] = []
        empty: list[str] = []
        for table, rows in tables.items():
            title = TABLE_TITLE.get(table, table)
            if not rows:
                empty.append(title)
            for n, row in enumerate(rows, start=1):
                numbered = f"{title} {n}/{len(rows)}" if len(rows) > 1 else title
                found.append(Record(numbered, tuple(_fields(row, values=_VALUES.get(table, {})))))
        nothing = (f"Rien dans : {', '.join(empty)}.",) if empty else () if found else ("Aucune donnée.",)
        sections.append(Section(SERVICE_TITLE.get(service, service), paragraphs=nothing, records=tuple(found)))
    return Document(
        title=f"Données personnelles — {name}",
        lead=(
            f"Tout ce que la plateforme de microcrédit accompagné garde sur le dossier {application_id}, service par service, "
            f"extrait le {labels.moment(at)} par {by} (droit d'accès, RGPD art. 15)."
        ),
        sections=tuple(sections),
    )


def _fields(row: dict[str, Any], prefix: str = "", values: dict[str, dict[str, str]] | None = None) -> list[tuple[str, str]]:
    """A row's fields, nested ones flattened (`Personne › Prénom`), each value in French (codes in words by `values`)."""
    values = {**_CODES, **(values or {})}
    out: list[tuple[str, str]] = []
    for key, value in row.items():
        label = f"{prefix}{FIELD.get(key, key.replace('_', ' '))}"
        if key in _AMOUNTS and isinstance(value, dict):  # {"salary": 98000, …}: amounts in cents by kind
            out += [(f"{label} › {_AMOUNTS[key].get(k, k)}", _value("_cents", v)) for k, v in value.items()] or [(label, "—")]
        elif key == "documents" and isinstance(value, dict):
            out += [(f"{label} › {labels.DOCUMENT.get(k, k)}", _status(v)) for k, v in value.items()]
        elif isinstance(value, dict):
            out += _fields(value, f"{label} › ", values) if value else [(label, "—")]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for n, item in enumerate(value, start=1):
                out += _fields(item, f"{label} {n} › ", values)
        elif isinstance(value, str) and value in values.get(key, {}):
            out.append((label, values[key][value]))
        else:
            out.append((label, _value(key, value)))
    return out


def _status(document: Any) -> str:
    status = document.get("status") if isinstance(document, dict) else document
    return labels.DOCUMENT_STATUS.get(str(status), str(status))


def _value(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list):
        return ", ".join(_value(key, v) for v in value) or "—"
    if key.endswith("_rate") and isinstance(value, str):
        return labels.rate(value)
    if key.endswith("_cents") and isinstance(value, int):
        return labels.euros(value)
    if isinstance(value, str) and _MOMENT.match(value):
        return labels.moment(value)
    if isinstance(value, str) and _DAY.match(value):
        return labels.day(value)
    return str(value)
