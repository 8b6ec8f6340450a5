"""What a microcredit file holds: applicant, household, budget by kind, project, terms asked, documents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field, field_validator
from pydantic_core import PydanticCustomError

from services.intake.domain.documents import (
    ChecklistItem,
    DocumentKind,
    DocumentRecord,
    DocumentState,
    checklist,
    outstanding,
    required_documents,
)
from shared.events.vocabulary import ChargeKind, Purpose, ReferralSource, ResourceKind
from shared.fields import WHOLE_NUMBER, Day, Flag, FreeText, Identifier

MIN_AMOUNT_CENTS = 300_00
MAX_AMOUNT_CENTS = 8_000_00
MIN_DURATION_MONTHS = 6
MAX_DURATION_MONTHS = 84
MAX_MONTHLY_CENTS = 100_000_00  # 100,000 € a month: beyond it a figure is a typing error, not a budget



# Bounds before the validator, so that the OpenAPI document states them (minimum, maximum).
MonthlyCents = Annotated[int, Field(ge=0, le=MAX_MONTHLY_CENTS), WHOLE_NUMBER, Field(description="Monthly amount in euro cents.")]
AmountCents = Annotated[int, Field(ge=MIN_AMOUNT_CENTS, le=MAX_AMOUNT_CENTS), WHOLE_NUMBER]
DurationMonths = Annotated[int, Field(ge=MIN_DURATION_MONTHS, le=MAX_DURATION_MONTHS), WHOLE_NUMBER]
Adults = Annotated[int, Field(ge=1, le=12), WHOLE_NUMBER]
ChildAge = Annotated[int, Field(ge=0, le=25), WHOLE_NUMBER]
Name = Annotated[FreeText, Field(min_length=1, max_length=100)]

# Purposes a personal microcredit never funds, with the rule each breaks (décret 2022-124 and the FCS charter).
_CONSUMPTION = (
    "everyday_consumption_excluded",
    "a personal microcredit does not fund everyday consumption or running costs: the purpose must serve social"
    " or professional insertion (vehicle, driving_licence, housing, training, health, family_event)",
)
_DEBTS = (
    "debt_repayment_excluded",
    "a personal microcredit does not repay other debts: an over-indebted person is oriented to the Banque de"
    " France procedure; the purpose must serve social or professional insertion",
)
EXCLUDED_PURPOSES: dict[str, tuple[str, str]] = {
    "consumption": _CONSUMPTION,
    "everyday_consumption": _CONSUMPTION,
    "running_costs": _CONSUMPTION,
    "debt_repayment": _DEBTS,
    "debt_consolidation": _DEBTS,
    "repayment_of_other_debts": _DEBTS,
}


def _insertion_purpose(value: Any) -> Any:
    # Before the enum check, so an excluded purpose gets its own rule instead of a bare "not in the list".
    if isinstance(value, str) and value in EXCLUDED_PURPOSES:
        rule, message = EXCLUDED_PURPOSES[value]
        raise PydanticCustomError(rule, message)
    return value


InsertionPurpose = Annotated[Purpose, BeforeValidator(_insertion_purpose)]


class Status(StrEnum):
    """Where a file stands, as intake knows it (its own actions and assessment's events)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    FAVOURABLE = "favourable"
    UNFAVOURABLE = "unfavourable"
    RETURNED_INCOMPLETE = "returned_incomplete"
    ROUTED = "routed"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


# Nothing changes a file once the bank decided or the applicant withdrew.
CLOSED = frozenset({Status.APPROVED, Status.DECLINED, Status.WITHDRAWN})
DECIDED = frozenset({Status.APPROVED, Status.DECLINED})


class Contact(BaseModel):
    """How to reach the applicant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 .-]{5,19}$", examples=["06 12 34 56 78"])
    email: str | None = Field(
        None, max_length=254, pattern=r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
    )


class Address(BaseModel):
    """Where the applicant lives (France)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    street: FreeText = Field(min_length=1, max_length=200)
    postcode: str = Field(pattern=r"^[0-9]{5}$", description="French postcode, five digits.")
    city: Name


class Applicant(BaseModel):
    """The person who borrows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_name: Name
    last_name: Name
    birth_date: Day | None = Field(None, description="In the past; the applicant must be of age (18).")
    contact: Contact | None = None
    address: Address | None = None
    over_indebted: Flag = Field(False, description="Under a Banque de France over-indebtedness plan (adds the plan to the checklist).")

    @property
    def full_name(self) -> str:
        """First and last name, as the file shows them."""
        return f"{self.first_name} {self.last_name}"


class Household(BaseModel):
    """Who lives on the budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adults: Adults
    children_ages: list[ChildAge] = Field(
        default_factory=list, max_length=20, description="Ages in years of the children living in the home."
    )


class Project(BaseModel):
    """What the loan pays for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: InsertionPurpose = Field(
        description="Must serve insertion: everyday consumption and the repayment of other debts are refused."
    )
    description: FreeText = Field(min_length=1, max_length=2000)
    supplier: FreeText | None = Field(None, min_length=1, max_length=200, description="Garage, training body, landlord…")
    quote_cents: MonthlyCents | None = Field(None, description="The supplier's quote, in cents.")


class FileChanges(BaseModel):
    """Changes to a file: each field given replaces that part (documents are merged item by item)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    applicant: Applicant | None = None
    household: Household | None = None
    resources: dict[ResourceKind, MonthlyCents] | None = Field(None, description="Monthly resources by kind, in cents.")
    charges: dict[ChargeKind, MonthlyCents] | None = Field(None, description="Monthly fixed charges by kind, in cents.")
    project: Project | None = None
    amount_cents: AmountCents | None = Field(None, description="Amount asked, in cents (300 € to 8,000 €).")
    duration_months: DurationMonths | None = Field(None, description="6 to 84 months.")
    referral_source: ReferralSource | None = None
    branch_id: Identifier | None = Field(None, description="The association's branch (antenne).")
    counsellor_id: Identifier | None = Field(
        None, description="Who follows the file: a supervisor assigns it; a counsellor can only name themselves."
    )
    documents: dict[DocumentKind, DocumentRecord] | None = Field(None, description="Checklist items to record, by kind.")

    @field_validator("applicant")
    @classmethod
    def _keep_applicant(cls, value: Applicant | None) -> Applicant:
        if value is None:
            raise ValueError("a file always names its applicant")
        return value


class FileContent(FileChanges):
    """A new file (a draft): the applicant is enough to open it; the rest can come later."""

    applicant: Applicant


class Application(BaseModel):
    """A file as intake keeps it, with its derived checklist and budget totals."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    status: Status
    association_id: str
    region: str
    branch_id: str | None = None
    counsellor_id: str
    applicant: Applicant
    household: Household | None = None
    resources: dict[ResourceKind, int] = Field(default_factory=dict)
    charges: dict[ChargeKind, int] = Field(default_factory=dict)
    project: Project | None = None
    amount_cents: int | None = None
    duration_months: int | None = None
    referral_source: ReferralSource | None = None
    documents: dict[DocumentKind, DocumentState] = Field(default_factory=dict, description="What was recorded, by kind.")
    incomplete_reason: str | None = Field(None, description="Why the file was submitted with documents outstanding.")
    created_at: datetime
    created_by: str
    updated_at: datetime
    submitted_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    withdrawn_by: str | None = None
    decided_at: datetime | None = Field(None, description="When intake learnt the bank's decision.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def monthly_resources_cents(self) -> int:
        """Total of the monthly resources."""
        return sum(self.resources.values())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def monthly_charges_cents(self) -> int:
        """Total of the monthly charges."""
        return sum(self.charges.values())

    @property
    def required_documents(self) -> tuple[DocumentKind, ...]:
        """What this file needs, from its purpose and the applicant's situation."""
        return required_documents(self.project.purpose if self.project else None, self.applicant.over_indebted)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def checklist(self) -> list[ChecklistItem]:
        """Every required document and where it stands, then any other recorded."""
        return checklist(self.documents, self.required_documents)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outstanding_documents(self) -> list[DocumentKind]:
        """Required documents neither received nor verified."""
        return outstanding(self.documents, self.required_documents)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def checklist_complete(self) -> bool:
        """Every required document received or verified."""
        return not self.outstanding_documents
