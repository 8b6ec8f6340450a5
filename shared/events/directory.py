"""The directory stream (key: the entity's path, e.g. `associations/secours-catholique`): snapshots of what the admins keep.

Each event carries the whole current state of one entity and its `version` (1, 2, …): a consumer keeps
the newest version it has seen and ignores an older one, so a replay or a late redelivery changes nothing.
The key names the entity's kind as well as its id, so that a compacted topic keeps the newest snapshot
of every entity even where a network and an association share an id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.common import Cents, Rate
from shared.events.envelope import Envelope, Payload
from shared.events.topics import Topics

ContactRole = Literal["counsellor", "supervisor", "bank_officer", "bank_technical"]


class Snapshot(Payload):
    """What every snapshot carries: whether the entity is in use, and its version."""

    active: bool = Field(description="False once an admin deactivated it (nothing is ever deleted).")
    version: int = Field(ge=1, description="1 at creation, one more at each change: the newest wins.")


class DirectoryNetworkData(Snapshot):
    """An association network and its affordability thresholds, as they are now."""

    network_id: str
    name: str
    min_remaining_per_unit_cents: Cents | None = Field(
        description="Minimum reste à vivre per consumption unit and month after the instalment; null: the platform's default."
    )
    max_instalment_share: Rate | None = Field(
        description="Maximum share of the monthly resources the instalment may take (fraction); null: the platform's default."
    )

    def subject(self) -> str:
        """The event's subject and Kafka key."""
        return f"networks/{self.network_id}"


class DirectoryNetwork(Envelope[DirectoryNetworkData]):
    """`directory network` v1."""

    topic: ClassVar[str] = Topics.DIRECTORY
    type: Literal["fr.microcredit.directory.network.v1"] = "fr.microcredit.directory.network.v1"


class Branch(Payload):
    """One branch (antenne) of an association."""

    branch_id: str
    name: str
    region: str


class DirectoryAssociationData(Snapshot):
    """An association: its network, regions and branches, partner banks and the addresses it is reached at, as they are now."""

    association_id: str
    name: str
    network_id: str
    regions: list[str]
    branches: list[Branch]
    partner_banks: list[str] = Field(description="Bank ids a favourable file may be routed to (if the bank is active).")
    bank_contact: str | None = Field(description="E-mail a partner bank is given for the association's files.")
    shared_mailbox: str | None = Field(description="E-mail of the association's shared mailbox (the shared alert queue).")

    def subject(self) -> str:
        """The event's subject and Kafka key."""
        return f"associations/{self.association_id}"


class DirectoryAssociation(Envelope[DirectoryAssociationData]):
    """`directory association` v1."""

    topic: ClassVar[str] = Topics.DIRECTORY
    type: Literal["fr.microcredit.directory.association.v1"] = "fr.microcredit.directory.association.v1"


class DirectoryBankData(Snapshot):
    """A partner bank, as it is now."""

    bank_id: str
    name: str

    def subject(self) -> str:
        """The event's subject and Kafka key."""
        return f"banks/{self.bank_id}"


class DirectoryBank(Envelope[DirectoryBankData]):
    """`directory bank` v1."""

    topic: ClassVar[str] = Topics.DIRECTORY
    type: Literal["fr.microcredit.directory.bank.v1"] = "fr.microcredit.directory.bank.v1"


class DirectoryContactData(Snapshot):
    """A person's (or a bank's technical) contact: who, which e-mail, in which role, for which association or bank, as it is now."""

    username: str = Field(description="The person's user name: the `sub` of their token.")
    display_name: str
    email: str
    role: ContactRole
    association_id: str | None = Field(description="Counsellors and supervisors: their association.")
    bank_id: str | None = Field(description="Bank officers and technical contacts: their bank.")

    def subject(self) -> str:
        """The event's subject and Kafka key."""
        return f"contacts/{self.username}"


class DirectoryContact(Envelope[DirectoryContactData]):
    """`directory contact` v1."""

    topic: ClassVar[str] = Topics.DIRECTORY
    type: Literal["fr.microcredit.directory.contact.v1"] = "fr.microcredit.directory.contact.v1"
