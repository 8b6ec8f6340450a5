"""Intake domain: what a submitted application is and the rules it must satisfy (no I/O)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from shared.events import ApplicationSubmitted, new_event
from shared.events.catalog import ApplicationSubmittedData
from shared.text import FreeText, Identifier

SOURCE = "/services/intake"

MIN_AMOUNT_CENTS = 300_00
MAX_AMOUNT_CENTS = 8_000_00
MIN_DURATION_MONTHS = 6
MAX_DURATION_MONTHS = 84


class Purpose(StrEnum):
    """Purposes that serve social or professional insertion (everyday consumption is not one)."""

    VEHICLE = "vehicle"
    DRIVING_LICENCE = "driving_licence"
    HOUSING = "housing"
    TRAINING = "training"
    HEALTH = "health"
    FAMILY_EVENT = "family_event"


class NewApplication(BaseModel):
    """An application as a counsellor submits it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    association_id: Identifier = Field(description="The accompanying association, e.g. `secours-catholique`.")
    region: Identifier = Field(description="Region of the association's branch, e.g. `ile-de-france`.")
    counsellor_id: Identifier = Field(description="The counsellor who builds and follows the file.")
    applicant_name: FreeText = Field(min_length=1, max_length=200, description="Applicant's full name.")
    purpose: Purpose
    amount_cents: int = Field(
        ge=MIN_AMOUNT_CENTS, le=MAX_AMOUNT_CENTS, description="Amount asked, in cents (300 € to 8,000 €)."
    )
    duration_months: int = Field(ge=MIN_DURATION_MONTHS, le=MAX_DURATION_MONTHS, description="6 to 84 months.")
    monthly_resources_cents: int = Field(ge=0, le=10_000_000, description="Monthly resources, in cents.")
    monthly_charges_cents: int = Field(ge=0, le=10_000_000, description="Monthly fixed charges, in cents.")


class Application(NewApplication):
    """A submitted application."""

    id: UUID
    status: str
    submitted_at: datetime


def submit(new: NewApplication, now: datetime) -> tuple[Application, ApplicationSubmitted]:
    """Accept a new application: the stored state and the `application submitted` event."""
    application = Application(**new.model_dump(), id=uuid4(), status="submitted", submitted_at=now)
    event = new_event(
        ApplicationSubmitted,
        source=SOURCE,
        subject=str(application.id),
        time=now,
        data=ApplicationSubmittedData(application_id=application.id, **new.model_dump()),
    )
    return application, event
