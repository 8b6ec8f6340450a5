"""Servicing's events built in SQL, set-based, byte for byte what `domain.loan_event` would build."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter

from services.servicing.domain import SOURCE
from shared.events.envelope import Envelope
from shared.outbox import trace_headers

_TIME = TypeAdapter(AwareDatetime)


@dataclass(frozen=True)
class Stamp:
    """What every event of one run carries: its time (as JSON text) and the trace of the request that ran it."""

    time: str
    headers: str

    @classmethod
    def of(cls, now: datetime) -> Stamp:
        """The stamp of a run at `now`, in the current trace."""
        return cls(time=_TIME.dump_python(now, mode="json"), headers=trace_headers())


def literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _payload(event_cls: type[Envelope[Any]], data: dict[str, str], *, time: str) -> str:
    """A SQL expression of the CloudEvent bytes of `event_cls` for the row `e`.

    `e` has `event_id` and `loan_id`; `time` is the parameter holding the event time (JSON text) and
    `data` maps each payload field to its SQL expression. The key order follows the pydantic models.
    """
    event_type = event_cls.event_type()
    fields = ", ".join(f"{literal(name)}, {expr}" for name, expr in data.items())
    return (
        "convert_to(json_build_object("
        f"'specversion', '1.0', 'id', e.event_id, 'source', {literal(SOURCE)}, 'type', {literal(event_type)},"
        f" 'subject', e.loan_id, 'time', {time}::text, 'datacontenttype', 'application/json',"
        f" 'dataschema', {literal('urn:microcredit:schema:' + event_type)}, 'data', json_build_object({fields})"
        ")::text, 'UTF8')"
    )


def outbox_insert(event_cls: type[Envelope[Any]], source: str, order: str, data: dict[str, str], *, time: str, headers: str) -> str:
    """Insert the events of the rows of CTE `source` into the outbox, in `order` (their publication order)."""
    return (
        "insert into outbox (event_id, event_type, topic, key, payload, headers)"
        f" select e.event_id, {literal(event_cls.event_type())}, {literal(event_cls.topic)}, e.loan_id::text,"
        f" {_payload(event_cls, data, time=time)}, {headers}::jsonb"
        f" from (select gen_random_uuid() as event_id, s.* from {source} s) e order by {order}"
        " returning 1"
    )
