"""The documents checklist: which supporting documents a file needs, and where each one stands."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.events.vocabulary import Purpose
from shared.fields import Day


class DocumentKind(StrEnum):
    """Supporting documents of a microcredit file (the platform records their status, never the scan)."""

    IDENTITY = "identity"
    TAX_NOTICE = "tax_notice"  # avis d'imposition ou de non-imposition
    PROOF_OF_ADDRESS = "proof_of_address"
    BANK_STATEMENTS = "bank_statements"  # the last three months
    PROOF_OF_RESOURCES = "proof_of_resources"
    PROOF_OF_CHARGES = "proof_of_charges"
    QUOTE = "quote"
    DRIVING_LICENCE = "driving_licence"
    INSURANCE_QUOTE = "insurance_quote"
    OVER_INDEBTEDNESS_PLAN = "over_indebtedness_plan"  # the Banque de France plan


class DocumentStatus(StrEnum):
    """Where one document stands."""

    MISSING = "missing"
    RECEIVED = "received"
    VERIFIED = "verified"
    EXPIRED = "expired"


# What every file holds, whatever the project.
BASE_DOCUMENTS: tuple[DocumentKind, ...] = (
    DocumentKind.IDENTITY,
    DocumentKind.TAX_NOTICE,
    DocumentKind.PROOF_OF_ADDRESS,
    DocumentKind.BANK_STATEMENTS,
    DocumentKind.PROOF_OF_RESOURCES,
    DocumentKind.PROOF_OF_CHARGES,
    DocumentKind.QUOTE,
)
PURPOSE_DOCUMENTS: dict[Purpose, tuple[DocumentKind, ...]] = {
    Purpose.VEHICLE: (DocumentKind.DRIVING_LICENCE, DocumentKind.INSURANCE_QUOTE),
}
ACCEPTED = frozenset({DocumentStatus.RECEIVED, DocumentStatus.VERIFIED})


class DocumentRecord(BaseModel):
    """A document's status as the counsellor records it; the date defaults to today."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: DocumentStatus
    on: Day | None = Field(None, description="When the document reached this status (not in the future); default today.")


class DocumentState(BaseModel):
    """A document's recorded status and its date."""

    model_config = ConfigDict(frozen=True)

    status: DocumentStatus
    on: date


class ChecklistItem(BaseModel):
    """One line of the checklist."""

    model_config = ConfigDict(frozen=True)

    kind: DocumentKind
    required: bool = Field(description="Whether this file needs it (derived from the purpose and the applicant).")
    status: DocumentStatus
    on: date | None = None


def required_documents(purpose: Purpose | None, over_indebted: bool) -> tuple[DocumentKind, ...]:
    """The documents a file needs: the base list, what the purpose adds, and the plan of an over-indebted person."""
    extra = PURPOSE_DOCUMENTS.get(purpose, ()) if purpose is not None else ()
    plan = (DocumentKind.OVER_INDEBTEDNESS_PLAN,) if over_indebted else ()
    return BASE_DOCUMENTS + extra + plan


def checklist(documents: Mapping[DocumentKind, DocumentState], required: tuple[DocumentKind, ...]) -> list[ChecklistItem]:
    """Every required document (missing unless recorded), then any other document recorded."""
    kinds = list(required) + [k for k in DocumentKind if k in documents and k not in required]
    return [
        ChecklistItem(
            kind=kind,
            required=kind in required,
            status=documents[kind].status if kind in documents else DocumentStatus.MISSING,
            on=documents[kind].on if kind in documents else None,
        )
        for kind in kinds
    ]


def outstanding(documents: Mapping[DocumentKind, DocumentState], required: tuple[DocumentKind, ...]) -> list[DocumentKind]:
    """Required documents neither received nor verified (missing or expired)."""
    return [kind for kind in required if kind not in documents or documents[kind].status not in ACCEPTED]
