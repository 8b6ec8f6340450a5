"""The file as the events carry it (`shared.events.catalog.ApplicationFileData`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.intake.domain.file import Application
from shared.events import new_event
from shared.events import ApplicationFileData, Household, ProjectInfo
from shared.events.envelope import Envelope

SOURCE = "/services/intake"


def ownership(a: Application) -> dict[str, str]:
    """Whose file it is, as every event says."""
    return {"association_id": a.association_id, "region": a.region, "counsellor_id": a.counsellor_id}


def file_data(a: Application) -> dict[str, Any]:
    """Every field of `ApplicationFileData`; only for a file complete enough to submit."""
    assert a.project is not None and a.household is not None  # guaranteed by missing_for_submission
    data = ApplicationFileData(
        **ownership(a),
        application_id=a.id,
        applicant_name=a.applicant.full_name,
        purpose=a.project.purpose.value,
        amount_cents=a.amount_cents,
        duration_months=a.duration_months,
        monthly_resources_cents=a.monthly_resources_cents,
        monthly_charges_cents=a.monthly_charges_cents,
        branch_id=a.branch_id,
        birth_date=a.applicant.birth_date,
        household=Household(adults=a.household.adults, children_ages=list(a.household.children_ages)),
        resources={k.value: v for k, v in a.resources.items()},
        charges={k.value: v for k, v in a.charges.items()},
        project=ProjectInfo(
            category=a.project.purpose.value,
            description=a.project.description,
            supplier=a.project.supplier,
            quote_cents=a.project.quote_cents,
        ),
        referral_source=a.referral_source.value if a.referral_source else None,
        documents={item.kind.value: item.status.value for item in a.checklist},
        incomplete_reason=a.incomplete_reason,
    )
    return dict(data)


def event(cls: type[Envelope[Any]], a: Application, now: datetime, data: BaseModel) -> Envelope[Any]:
    """An intake event about the file, keyed by its id."""
    return new_event(cls, source=SOURCE, subject=str(a.id), time=now, data=data)
