"""The information notice (RGPD art. 13) a counsellor gives the applicant, written from the declared processing.

`notice(on)` returns sections of paragraphs, lists and tables that the workspace renders as a page and as a
PDF: one text, two forms. The retention periods are those of `deploy/privacy/retention.toml` in force on `on`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shared.privacy.processing import CNIL, CONTROLLER, DPO_CONTACT, PROCESSING, RETENTION_FILE, RIGHTS, TRANSFERS, retention_rules


@dataclass(frozen=True)
class Section:
    """A titled part of a document: paragraphs, then bullet points, then a table, then records (each may be empty)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()  # the first row is the header
    records: tuple[Record, ...] = ()  # rows of data, each its fields


@dataclass(frozen=True)
class Record:
    """One row of data as a person reads it: what it is, then each field as a label and a value."""

    title: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Document:
    """A document people read: a title, a lead paragraph, sections."""

    title: str
    lead: str
    sections: tuple[Section, ...] = field(default_factory=tuple)


def notice(on: date, rules_file: Path = RETENTION_FILE) -> Document:
    """The notice in force on `on`, its retention periods read from `rules_file`."""
    rules = retention_rules(on, rules_file)
    recipients: dict[str, str] = {}
    for processing in PROCESSING:
        for recipient in processing.recipients:
            recipients.setdefault(recipient.name, recipient.receives)
    return Document(
        title="Vos données personnelles et le microcrédit accompagné",
        lead=(
            "Pour étudier votre demande de microcrédit puis suivre votre prêt, l'association et la banque partenaire "
            "ont besoin de données sur vous. Ce document dit lesquelles, pourquoi, qui les reçoit, combien de temps "
            "elles sont gardées et comment exercer vos droits."
        ),
        sections=(
            Section("Qui est responsable de vos données", (CONTROLLER, f"Délégué·e à la protection des données : {DPO_CONTACT}")),
            Section(
                "Pourquoi vos données sont utilisées",
                table=(("Finalité", "Ce qui est fait", "Base légale"),)
                + tuple((p.name, p.purpose, p.legal_basis) for p in PROCESSING),
            ),
            Section(
                "Les données concernées",
                ("Seules les données utiles à votre demande sont recueillies :",),
                items=tuple(dict.fromkeys(d for p in PROCESSING for d in p.data)),
            ),
            Section(
                "Qui reçoit vos données",
                ("Vos données ne sont jamais vendues ni utilisées pour de la publicité. " + TRANSFERS,),
                items=tuple(f"{name} : {what}." for name, what in recipients.items()),
            ),
            Section(
                "Combien de temps elles sont gardées",
                ("Ces durées sont celles que la plateforme applique chaque jour automatiquement.",),
                table=(("Données", "Durée de conservation", "Raison"),)
                + tuple((r.covers, r.summary, r.legal_reason) for r in rules.values()),
            ),
            Section(
                "Vos droits",
                (
                    "Pour exercer un droit, adressez-vous à votre conseiller ou directement au délégué à la protection "
                    "des données (" + DPO_CONTACT[:-1] + ") ; une réponse vous est donnée dans un délai d'un mois.",
                ),
                items=tuple(f"{name} : {what}" for name, what in RIGHTS),
            ),
            Section(
                "Réclamation",
                (f"Si vous estimez que vos droits ne sont pas respectés, vous pouvez saisir la {CNIL}.",),
            ),
        ),
    )
