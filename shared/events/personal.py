"""Personal fields, declared once on the contracts: what is sealed with the data subject's key before it leaves a service.

A payload field typed `Sealable[T]` is personal: the applicant's name, birth date, household and budget, the
project, and the free texts written about the person. On the wire it is either its clear value (events written
before sealing, the golden samples) or a `Sealed` value, encrypted (AES-256-GCM) with the data key of the
file's applicant — the subject, named by the payload's `application_id` (`shared.privacy.sealing` seals and opens).
Ids, amounts lent, durations, rates, dates and statuses stay in clear: the flows route and decide on them.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.events.envelope import Envelope

T = TypeVar("T")

SEALED_ALGORITHM: Literal["A256GCM"] = "A256GCM"


class Sealed(BaseModel):
    """A personal field encrypted with its subject's data key (AES-256-GCM); unreadable once that key is destroyed."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Sealed")

    sealed: Literal["A256GCM"] = Field(description="The algorithm: AES-256-GCM with the subject's data key.")
    kid: UUID = Field(description="The data subject (the file's application id) whose key sealed the value.")
    iv: str = Field(description="The 96-bit nonce, base64.")
    ct: str = Field(
        description="Base64 of the ciphertext and its tag; the clear text is the field's JSON value, the associated "
        "data `<event type>|<field>|<subject>`."
    )


class Personal:
    """The marker of a personal field in its type's metadata (`Sealable[T]`)."""

    def __repr__(self) -> str:
        return "Personal"


PERSONAL = Personal()

# A personal field: its clear value, or sealed. Optional ones are `Sealable[T | None]` (the marker stays on the field).
# Its JSON schema says so too (`x-personal`), for the readers of the AsyncAPI documents.
Sealable = Annotated[T | Sealed, PERSONAL, Field(json_schema_extra={"x-personal": True})]


@cache
def personal_fields(event_cls: type[Envelope[Any]]) -> tuple[str, ...]:
    """The payload fields of `event_cls` that are personal (sealed when they leave a service), in declaration order."""
    data_cls = event_cls.model_fields["data"].annotation
    assert isinstance(data_cls, type) and issubclass(data_cls, BaseModel)
    return tuple(name for name, info in data_cls.model_fields.items() if any(isinstance(m, Personal) for m in info.metadata))


def to_seal(event: Envelope[Any]) -> tuple[str, ...]:
    """The personal fields of `event` that hold a clear value (None is no value: nothing to hide)."""
    data = event.data
    return tuple(f for f in personal_fields(type(event)) if (v := getattr(data, f)) is not None and not isinstance(v, Sealed))


def subject_of(event: Envelope[Any]) -> UUID | None:
    """The data subject of an event's personal fields: its file (`application_id`), None when it names none."""
    subject = getattr(event.data, "application_id", None)
    return subject if isinstance(subject, UUID) else None


def is_sealed(value: object) -> bool:
    """Whether a personal field's value is still sealed (not granted to the reader, or its key destroyed)."""
    return isinstance(value, Sealed)
