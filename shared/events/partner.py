"""What a partner bank may see of an event: the allow-list, declared once, and the cut event its feed carries.

Data minimisation: per event type, the only payload fields a bank receives (on its Kafka feed and in its
webhooks). Pseudonymous ids, amounts, rates, dates, terms and stages; never a name, a birth date, the
household, the budget, the counsellor or the association, the social diagnostic, or free text a counsellor
wrote (an adjustment's reason, for one). An event type absent from the list never reaches a bank.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import create_model

from shared.events.applications import ApplicationRouted, LoanApproved, LoanDeclined
from shared.events.catalog import payload_class
from shared.events.envelope import Envelope, Payload
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
from shared.events.topics import PartnerTopics

PARTNER_FIELDS: dict[type[Envelope[Any]], tuple[str, ...]] = {
    ApplicationRouted: ("application_id", "bank_id", "amount_cents", "duration_months", "annual_rate"),
    LoanApproved: ("application_id", "bank_id", "amount_cents", "annual_rate", "duration_months", "first_due_date", "instalment_day"),
    LoanDeclined: ("application_id", "bank_id"),
    LoanDisbursed: ("loan_id", "application_id", "amount_cents", "disbursed_on"),
    PaymentReceived: (
        "loan_id", "payment_id", "bank_reference", "amount_cents", "received_on", "interest_cents", "principal_cents", "overpaid_cents",
    ),
    PaymentReversed: ("loan_id", "payment_id", "bank_reference", "amount_cents"),
    PaymentMissed: (
        "loan_id", "application_id", "instalment_number", "due_date", "amount_due_cents", "amount_unpaid_cents", "business_date",
    ),
    DelinquencyStageChanged: (
        "loan_id", "application_id", "previous_stage", "stage", "days_past_due", "arrears_cents", "business_date",
    ),
    AdjustmentRequested: ("loan_id", "adjustment_id", "terms"),
    AdjustmentRefused: ("loan_id", "adjustment_id"),
    LoanRescheduled: (
        "loan_id", "adjustment_id", "terms", "schedule_version", "principal_outstanding_cents", "instalment_cents",
        "remaining_instalments", "next_due_date",
    ),
    LoanWrittenOff: (
        "loan_id", "application_id", "principal_outstanding_cents", "days_past_due", "guarantee_share", "guarantee_claim_cents",
        "business_date",
    ),
    LoanClosed: ("loan_id", "application_id", "closed_on", "reason"),
}
PARTNER_EVENT_TYPES: tuple[str, ...] = tuple(cls.event_type() for cls in PARTNER_FIELDS)


def partner_schema_urn(event_type: str) -> str:
    """The `dataschema` of a partner event: its own schema, the allow-listed part of the platform's."""
    return f"urn:microcredit:schema:partner:{event_type}"


@cache
def partner_event_class(event_cls: type[Envelope[Any]]) -> type[Envelope[Any]]:
    """The event as a bank receives it: the same type, id, subject and time, its payload cut to the allow-list.

    Derived from the platform's payload model (same field types and descriptions), so the two cannot drift.
    """
    full = payload_class(event_cls)
    data_cls = create_model(  # type: ignore[call-overload]
        f"Partner{full.__name__}",
        __base__=Payload,
        __doc__=f"{(full.__doc__ or '').strip()} (partner feed: the allow-listed fields only)",
        **{name: (full.model_fields[name].annotation, full.model_fields[name]) for name in PARTNER_FIELDS[event_cls]},
    )
    event_type = event_cls.event_type()
    partner_cls = create_model(  # type: ignore[call-overload]
        f"Partner{event_cls.__name__}",
        __base__=Envelope[data_cls],
        __doc__=f"`{event_type}` on a partner bank's feed `{PartnerTopics.FEED_ADDRESS}`.",
        type=(Literal[event_type], event_type),  # type: ignore[valid-type]
    )
    partner_cls.topic = PartnerTopics.FEED_ADDRESS
    return partner_cls


def for_partner(event: Envelope[Any]) -> Envelope[Any] | None:
    """`event` cut for a partner bank's feed, or None if no bank may receive its type."""
    if type(event) not in PARTNER_FIELDS:
        return None
    partner_cls = partner_event_class(type(event))
    data = payload_class(partner_cls).model_validate(event.data.model_dump(include=set(PARTNER_FIELDS[type(event)])))
    return partner_cls(
        id=event.id, source=event.source, type=event.type, subject=event.subject, time=event.time,
        dataschema=partner_schema_urn(event.type), data=data,
    )

