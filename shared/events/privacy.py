"""The privacy stream (key: the data subject, i.e. the file's `application_id`): what the DPO's service did to a person's data."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.events.envelope import Envelope, Payload
from shared.events.topics import Topics


class PersonErasedData(Payload):
    """A person's data key was destroyed: every service removes or anonymises what it holds about the file."""

    subject_id: UUID = Field(description="The data subject: the `application_id` of the file.")
    association_id: str = Field(description="The association that followed the file.")
    region: str = Field(description="The region of the association's branch.")
    erased_at: AwareDatetime = Field(description="When the key was destroyed.")
    kind: Literal["erase", "anonymise"] = Field(
        description="`erase`: the file never became a loan, or the person asked; `anonymise`: a closed loan past its "
        "retention, whose amounts and dates stay for the portfolio figures. Either way no personal field is left."
    )
    rule: str = Field(
        description="The retention rule applied (an id of `deploy/privacy/retention.toml`), or `request` for the person's request."
    )

    def subject(self) -> str:
        """The event's subject and Kafka key."""
        return str(self.subject_id)


class PersonRestrictedData(Payload):
    """The processing of a person's data was restricted (RGPD art. 18), or the restriction lifted: the file is kept
    as it is, nobody changes it, until the restriction is lifted."""

    subject_id: UUID = Field(description="The data subject: the `application_id` of the file.")
    association_id: str = Field(description="The association that followed the file.")
    region: str = Field(description="The region of the association's branch.")
    restricted: bool = Field(description="True: restricted from now on; false: the restriction is lifted.")
    at: AwareDatetime = Field(description="When the DPO restricted it or lifted the restriction.")

    def subject(self) -> str:
        """The event's subject and Kafka key."""
        return str(self.subject_id)


class PersonRestricted(Envelope[PersonRestrictedData]):
    """`person restricted` v1."""

    topic: ClassVar[str] = Topics.PRIVACY
    type: Literal["fr.microcredit.person.restricted.v1"] = "fr.microcredit.person.restricted.v1"


class PersonErased(Envelope[PersonErasedData]):
    """`person erased` v1."""

    topic: ClassVar[str] = Topics.PRIVACY
    type: Literal["fr.microcredit.person.erased.v1"] = "fr.microcredit.person.erased.v1"
