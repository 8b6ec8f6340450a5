"""Print the README's event catalogue from the contracts and the golden samples: `python -m deploy.catalogue`."""

from __future__ import annotations

import json
from pathlib import Path

from shared.events import EVENT_CLASSES

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"

# Who writes and who reads each type (the code's subscriptions; kept here for the reader).
FLOWS = {
    "fr.microcredit.application.submitted.v1": ("intake", "assessment, notifications (applicant name for e-mails)"),
    "fr.microcredit.application.updated.v1": ("intake", "assessment, notifications (incomplete-file timer)"),
    "fr.microcredit.application.withdrawn.v1": ("intake", "assessment, notifications, directory (files waiting for a bank)"),
    "fr.microcredit.application.assessed.v1": ("assessment", "intake (funnel), notifications (incomplete-file timer)"),
    "fr.microcredit.application.routed.v1": (
        "assessment", "intake (funnel), notifications (bank webhooks), directory (files waiting for a bank)"
    ),
    "fr.microcredit.bank.decision.v1": ("partner banks", "assessment"),
    "fr.microcredit.bank.decision.overdue.v1": ("assessment", "notifications"),
    "fr.microcredit.loan.approved.v1": ("assessment", "servicing, intake, notifications (alert, bank webhooks), directory"),
    "fr.microcredit.loan.declined.v1": ("assessment", "intake, notifications (alert, bank webhooks), directory"),
    "fr.microcredit.loan.disbursed.v1": ("servicing", "notifications (alert, bank webhooks)"),
    "fr.microcredit.payment.received.v1": ("servicing", "notifications (bank webhooks)"),
    "fr.microcredit.payment.missed.v1": ("servicing", "notifications (alert, bank webhooks)"),
    "fr.microcredit.payment.reversed.v1": ("servicing", "notifications (bank webhooks)"),
    "fr.microcredit.loan.delinquency.changed.v1": ("servicing", "notifications (supervisors' alert, bank webhooks)"),
    "fr.microcredit.loan.adjustment.requested.v1": ("servicing", "notifications (bank webhooks)"),
    "fr.microcredit.loan.adjustment.refused.v1": ("servicing", "notifications (alert, bank webhooks)"),
    "fr.microcredit.loan.rescheduled.v1": ("servicing", "notifications (alert, bank webhooks)"),
    "fr.microcredit.loan.written_off.v1": ("servicing", "notifications (bank webhooks)"),
    "fr.microcredit.loan.closed.v1": ("servicing", "notifications (bank webhooks)"),
    "fr.microcredit.bank.payment.v1": ("partner banks", "servicing"),
    "fr.microcredit.alert.raised.v1": ("notifications", "—"),
    "fr.microcredit.alert.acknowledged.v1": ("notifications", "—"),
    "fr.microcredit.alert.escalated.v1": ("notifications", "—"),
    "fr.microcredit.delivery.failed.v1": ("notifications", "—"),
    "fr.microcredit.directory.network.v1": ("directory", "assessment (affordability thresholds)"),
    "fr.microcredit.directory.association.v1": (
        "directory", "assessment (partner banks, contact for banks), notifications (shared mailbox)"
    ),
    "fr.microcredit.directory.bank.v1": ("directory", "assessment (active banks)"),
    "fr.microcredit.directory.contact.v1": ("directory", "notifications (e-mail addresses)"),
}


START, END = "<!-- catalogue:start -->", "<!-- catalogue:end -->"


def render() -> str:
    """The catalogue as Markdown: a table, then one entry per event type with its example."""
    out = ["| type | topic | written by | read by |", "|---|---|---|---|"]
    for cls in EVENT_CLASSES:
        producer, consumers = FLOWS.get(cls.event_type(), ("?", "?"))
        out.append(f"| `{cls.event_type()}` | `{cls.topic}` | {producer} | {consumers} |")
    out.append("")
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


def write_into(readme: Path) -> None:
    """Replace the README's catalogue, between its markers, with a fresh rendering."""
    text = readme.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{render()}\n{END}{tail}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        write_into(Path(sys.argv[2]))
    else:
        print(render())
