"""A CloudEvents 1.0 envelope (structured mode) around a typed, versioned payload."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)

CONTENT_TYPE: Literal["application/cloudevents+json"] = "application/cloudevents+json"


class Payload(BaseModel):
    """Base of every event payload: immutable, and unknown fields are ignored (forward compatible)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class EnvelopeHeader(BaseModel):
    """The envelope attributes alone: enough to route, deduplicate or dead-letter an event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = Field("1.0", description="CloudEvents specification version.")
    id: UUID = Field(description="Unique event id; consumers deduplicate on it.")
    source: str = Field(min_length=1, description="URI-reference of the producing service.")
    type: str = Field(min_length=1, description="Event type with its version, e.g. `...submitted.v1`.")
    subject: str = Field(min_length=1, description="The aggregate id; also the Kafka message key.")
    time: AwareDatetime = Field(description="When the fact happened (UTC).")


class Envelope(EnvelopeHeader, Generic[DataT]):
    """A whole event. Subclasses pin `type` to a Literal and `data` to their payload model."""

    topic: ClassVar[str]

    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = Field(description="URN of the payload schema, versioned with the type.")
    data: DataT

    @classmethod
    def event_type(cls) -> str:
        """The `type` attribute every event of this class carries."""
        return str(cls.model_fields["type"].default)

    def to_bytes(self) -> bytes:
        """Serialise as a structured-mode CloudEvent (JSON)."""
        return self.model_dump_json().encode()


EventT = TypeVar("EventT", bound=Envelope[Any])


def new_event(
    event_cls: type[EventT], *, source: str, subject: str, time: datetime, data: BaseModel
) -> EventT:
    """Build an event of `event_cls` with a fresh id and its schema URN."""
    event_type = event_cls.event_type()
    return event_cls(
        id=uuid4(),
        source=source,
        subject=subject,
        time=time,
        type=event_type,
        dataschema=f"urn:microcredit:schema:{event_type}",
        data=data,
    )


def event_id(value: Any) -> UUID:
    """Coerce an id read back from storage into a UUID."""
    return value if isinstance(value, UUID) else UUID(str(value))
