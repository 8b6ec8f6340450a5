"""What an admin writes about each kind of entity (the bodies of `PUT`), and what is shown and published of it (pure).

The state shown and the snapshot published are one model per kind (`shared.events.directory`), so that
what an admin reads is exactly what the other services are told.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from shared.events import (
    ContactRole,
    DirectoryAssociation,
    DirectoryAssociationData,
    DirectoryBank,
    DirectoryBankData,
    DirectoryContact,
    DirectoryContactData,
    DirectoryNetwork,
    DirectoryNetworkData,
    Envelope,
)
from shared.fields import WHOLE_NUMBER, DecimalRate, Flag, FreeText, Identifier

Name = Annotated[FreeText, Field(min_length=1, max_length=200)]
Email = Annotated[EmailStr, Field(max_length=254)]

MAX_REMAINING_PER_UNIT_CENTS = 2_000_00
MIN_SHARE, MAX_SHARE = Decimal("0.05"), Decimal("0.5")
_SHARE_TEXT = re.compile(r"0\.[0-9]{1,4}")
_SHARE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^0\.(0[5-9][0-9]{0,2}|[1-4][0-9]{0,3}|50{0,3})$"},
        {"type": "number", "minimum": float(MIN_SHARE), "maximum": float(MAX_SHARE), "multipleOf": 0.0001},
    ],
    "description": 'A share of the monthly resources as a fraction, 0.05 to 0.5, four decimals at most: "0.33" or 0.33.',
}


def _share_text(value: Any) -> Any:
    if isinstance(value, str) and not _SHARE_TEXT.fullmatch(value):
        raise PydanticCustomError("string_pattern_mismatch", 'a share is written as a decimal fraction such as "0.33"')
    return value


# No network lends beyond half of a household's resources, and a cap under 5 % is a typing error.
InstalmentShare = Annotated[
    DecimalRate,
    Field(ge=MIN_SHARE, le=MAX_SHARE, max_digits=5, decimal_places=4),
    BeforeValidator(_share_text),
    WithJsonSchema(_SHARE_SCHEMA, mode="validation"),
]
RemainingPerUnit = Annotated[int, Field(ge=0, le=MAX_REMAINING_PER_UNIT_CENTS), WHOLE_NUMBER]


class Fields(BaseModel):
    """The whole state of an entity as an admin writes it; `active` false deactivates it (nothing is deleted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    active: Flag = Field(True, description="false deactivates it; true (the default) keeps it, or brings it back, in use.")


class NetworkFields(Fields):
    """An association network and the affordability thresholds its associations assess files with."""

    name: Name
    min_remaining_per_unit_cents: RemainingPerUnit | None = Field(
        None, description="Minimum reste à vivre per consumption unit and month after the instalment, in cents; null: the platform's default."
    )
    max_instalment_share: InstalmentShare | None = Field(
        None, description="Maximum share of the monthly resources the instalment may take; null: the platform's default."
    )


class BranchFields(BaseModel):
    """One branch (antenne) of the association, in one of its regions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    branch_id: Identifier
    name: Name
    region: Identifier


class AssociationFields(Fields):
    """An association: its network, where it works, the banks it routes files to, and its addresses."""

    name: Name
    network_id: Identifier
    regions: list[Identifier] = Field(min_length=1, max_length=20, description="The regions it works in.")
    branches: list[BranchFields] = Field(default_factory=list, max_length=200)
    partner_banks: list[Identifier] = Field(
        default_factory=list, max_length=30, description="Partner banks (bank ids of the directory) its files may be routed to."
    )
    bank_contact: Email | None = Field(None, description="The e-mail partner banks are given for its files.")
    shared_mailbox: Email | None = Field(None, description="Its shared mailbox: the shared alert queue's e-mails.")

    @field_validator("regions", "partner_banks")
    @classmethod
    def _once_each(cls, ids: list[str]) -> list[str]:
        # A region or a bank named twice is named once, in the order first given.
        return list(dict.fromkeys(ids))


class BankFields(Fields):
    """A partner bank."""

    name: Name


class ContactFields(Fields):
    """A person's contact, or a bank's technical contact: counsellors and supervisors belong to an association, the others to a bank."""

    display_name: Name
    email: Email
    role: ContactRole
    association_id: Identifier | None = Field(None, description="Counsellors and supervisors: their association.")
    bank_id: Identifier | None = Field(None, description="Bank officers and technical contacts: their bank.")


@dataclass(frozen=True)
class Kind:
    """One kind of entity: its names, what an admin writes, and the snapshot shown and published."""

    name: str  # "association": the audit's and the problems' word
    path: str  # "associations": the API's collection and the events' subjects
    id_field: str  # "association_id"
    fields: type[Fields]
    snapshot: type[Any]
    event: type[Envelope[Any]]

    def view(self) -> type[BaseModel]:
        """The model an API answer shows: the snapshot and when it last changed."""
        return _VIEWS[self.name]


NETWORK = Kind("network", "networks", "network_id", NetworkFields, DirectoryNetworkData, DirectoryNetwork)
ASSOCIATION = Kind("association", "associations", "association_id", AssociationFields, DirectoryAssociationData, DirectoryAssociation)
BANK = Kind("bank", "banks", "bank_id", BankFields, DirectoryBankData, DirectoryBank)
CONTACT = Kind("contact", "contacts", "username", ContactFields, DirectoryContactData, DirectoryContact)


class _Changed(BaseModel):
    updated_at: datetime = Field(description="When it last changed.")


class NetworkView(DirectoryNetworkData, _Changed):
    """An association network, as it is now."""


class AssociationView(DirectoryAssociationData, _Changed):
    """An association, as it is now."""


class BankView(DirectoryBankData, _Changed):
    """A partner bank, as it is now."""


class ContactView(DirectoryContactData, _Changed):
    """A contact, as it is now."""


_VIEWS: dict[str, type[BaseModel]] = {"network": NetworkView, "association": AssociationView, "bank": BankView, "contact": ContactView}
