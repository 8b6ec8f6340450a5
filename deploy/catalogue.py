"""Print the README's event catalogue from the contracts and the golden samples: `python -m deploy.catalogue`."""

from __future__ import annotations

import json
from pathlib import Path

from shared.events.catalog import EVENT_CLASSES

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"

# Who writes and who reads each type (the code's subscriptions; kept here for the reader).
FLOWS = {
    "fr.microcredit.application.submitted.v1": ("intake", "assessment"),
    "fr.microcredit.application.updated.v1": ("intake", "assessment"),
    "fr.microcredit.application.withdrawn.v1": ("intake", "assessment"),
    "fr.microcredit.application.assessed.v1": ("assessment", "intake (funnel)"),
    "fr.microcredit.application.routed.v1": ("assessment", "intake (funnel)"),
    "fr.microcredit.bank.decision.v1": ("partner banks", "assessment"),
    "fr.microcredit.bank.decision.overdue.v1": ("assessment", "notifications"),
    "fr.microcredit.loan.approved.v1": ("assessment", "servicing, intake"),
    "fr.microcredit.loan.declined.v1": ("assessment", "intake"),
    "fr.microcredit.loan.disbursed.v1": ("servicing", "—"),
    "fr.microcredit.payment.received.v1": ("servicing", "—"),
    "fr.microcredit.payment.missed.v1": ("servicing", "notifications"),
    "fr.microcredit.alert.raised.v1": ("notifications", "—"),
}


def render() -> str:
    """The catalogue as Markdown: one entry per event type with its example."""
    out = []
    for cls in EVENT_CLASSES:
        event_type = cls.event_type()
        producer, consumers = FLOWS.get(event_type, ("?", "?"))
        payload = cls.model_fields["data"].annotation
        doc = (payload.__doc__ or cls.__doc__ or "").strip().splitlines()[0]
        example = json.loads((GOLDEN / f"{event_type}.json").read_text())
        out.append(
            f"#### `{event_type}`\n\n{doc} Topic `{cls.topic}`, key `subject`. "
            f"Written by {producer}; read by {consumers}.\n\n"
            f"```json\n{json.dumps(example, ensure_ascii=False, indent=2)}\n```\n"
        )
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
