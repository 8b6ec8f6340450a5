"""The catalogue: one list of every event class; the registry, the union consumers parse into and the exports derive from it."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter

from shared.events.alerts import AlertAcknowledged, AlertEscalated, CounsellorAlertRaised, DeliveryFailed
from shared.events.applications import (
    ApplicationAssessed,
    ApplicationRouted,
    ApplicationSubmitted,
    ApplicationUpdated,
    ApplicationWithdrawn,
    BankDecisionOverdue,
    LoanApproved,
    LoanDeclined,
)
from shared.events.banks import BankDecision, BankPayment
from shared.events.directory import DirectoryAssociation, DirectoryBank, DirectoryContact, DirectoryNetwork
from shared.events.envelope import Envelope
from shared.events.privacy import PersonErased, PersonRestricted
from shared.events.loans import (
    AdjustmentRefused,
    AdjustmentRequested,
    DelinquencyStageChanged,
    LoanClosed,
    LoanDisbursed,
    LoanRescheduled,
    LoanWrittenOff,
    PaymentMissed,
    PaymentReceived,
    PaymentReversed,
)

EVENT_CLASSES: tuple[type[Envelope[Any]], ...] = (
    ApplicationSubmitted,
    ApplicationUpdated,
    ApplicationWithdrawn,
    ApplicationAssessed,
    ApplicationRouted,
    BankDecision,
    BankDecisionOverdue,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    PaymentReceived,
    PaymentReversed,
    PaymentMissed,
    DelinquencyStageChanged,
    AdjustmentRequested,
    AdjustmentRefused,
    LoanRescheduled,
    LoanWrittenOff,
    LoanClosed,
    BankPayment,
    CounsellorAlertRaised,
    AlertAcknowledged,
    AlertEscalated,
    DeliveryFailed,
    DirectoryNetwork,
    DirectoryAssociation,
    DirectoryBank,
    DirectoryContact,
    PersonErased,
    PersonRestricted,
)
EVENT_TYPES: dict[str, type[Envelope[Any]]] = {c.event_type(): c for c in EVENT_CLASSES}

AnyEvent = Annotated[Union[EVENT_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def payload_class(event_cls: type[Envelope[Any]]) -> type[BaseModel]:
    """The payload model an event class carries in `data`."""
    annotation = event_cls.model_fields["data"].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def parse_event(raw: bytes | str) -> Envelope[Any]:
    """Parse a structured CloudEvent into its typed model; raises pydantic.ValidationError."""
    return _ADAPTER.validate_json(raw)
