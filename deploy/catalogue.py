"""Print the README's event catalogue: `python -m deploy.catalogue` (`--write README.md`).

Who writes and who reads each type comes from the services' AsyncAPI documents (`docs/asyncapi/`, written by
`python -m deploy.asyncapi` from the code: the outbox declarations and the Kafka subscribers); the descriptions
from the payload models, the examples from the golden samples of `tests/golden/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from shared.events import EVENT_CLASSES, PARTNER_FIELDS, PartnerTopics

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"

ASYNCAPI_DIR = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"
# The writers and readers, in this order: the services' documents, then the partner banks' (`python -m deploy.asyncapi`).
PARTIES = ("intake", "assessment", "servicing", "notifications", "directory", "privacy", "partner-banks")

# Why a reader reads a type, where the table says it (the code says who reads what; this only explains).
WHY: dict[tuple[str, str], str] = {
    ("fr.microcredit.application.submitted.v1", "notifications"): "applicant name for e-mails",
    ("fr.microcredit.application.updated.v1", "notifications"): "incomplete-file timer",
    ("fr.microcredit.application.withdrawn.v1", "directory"): "files waiting for a bank",
    ("fr.microcredit.application.assessed.v1", "intake"): "funnel",
    ("fr.microcredit.application.assessed.v1", "notifications"): "incomplete-file timer",
    ("fr.microcredit.application.routed.v1", "intake"): "funnel",
    ("fr.microcredit.application.routed.v1", "notifications"): "bank feed and webhooks",
    ("fr.microcredit.application.routed.v1", "directory"): "files waiting for a bank",
    ("fr.microcredit.loan.approved.v1", "notifications"): "alert, bank feed and webhooks",
    ("fr.microcredit.loan.declined.v1", "notifications"): "alert, bank feed and webhooks",
    ("fr.microcredit.loan.disbursed.v1", "notifications"): "alert, bank feed and webhooks",
    ("fr.microcredit.payment.received.v1", "notifications"): "bank feed and webhooks",
    ("fr.microcredit.payment.reversed.v1", "notifications"): "bank feed and webhooks",
    ("fr.microcredit.payment.missed.v1", "notifications"): "alert, bank feed and webhooks",
    ("fr.microcredit.loan.delinquency.changed.v1", "notifications"): "supervisors' alert, bank feed and webhooks",
    ("fr.microcredit.loan.adjustment.requested.v1", "notifications"): "bank feed and webhooks",
    ("fr.microcredit.loan.adjustment.refused.v1", "notifications"): "alert, bank feed and webhooks",
    ("fr.microcredit.loan.rescheduled.v1", "notifications"): "alert, bank feed and webhooks",
    ("fr.microcredit.loan.written_off.v1", "notifications"): "bank feed and webhooks",
    ("fr.microcredit.loan.closed.v1", "notifications"): "bank feed and webhooks",
    ("fr.microcredit.directory.network.v1", "assessment"): "affordability thresholds",
    ("fr.microcredit.directory.association.v1", "assessment"): "partner banks, contact for banks",
    ("fr.microcredit.directory.association.v1", "notifications"): "shared mailbox",
    ("fr.microcredit.directory.bank.v1", "assessment"): "active banks",
    ("fr.microcredit.directory.bank.v1", "notifications"): "the bank's topics",
    ("fr.microcredit.directory.contact.v1", "notifications"): "e-mail addresses",
    ("fr.microcredit.application.submitted.v1", "privacy"): "retention ledger",
    ("fr.microcredit.loan.closed.v1", "privacy"): "retention ledger",
    ("fr.microcredit.person.erased.v1", "intake"): "erase the file",
    ("fr.microcredit.person.erased.v1", "assessment"): "erase the assessment",
    ("fr.microcredit.person.erased.v1", "servicing"): "erase the borrower's texts",
    ("fr.microcredit.person.erased.v1", "notifications"): "erase the name from alerts and e-mails",
    ("fr.microcredit.person.restricted.v1", "intake"): "refuse changes to the file",
}


def _event_types(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    """The event types an operation's messages carry: the `type` constant of each payload schema."""
    schemas = document["components"]["schemas"]
    found = []
    for message_ref in operation["messages"]:
        channel_name, _, message_name = _pointer(message_ref["$ref"]).removeprefix("channels/").rpartition("/messages/")
        channel_message = document["channels"][channel_name]["messages"][message_name]
        message = document["components"]["messages"][_pointer(channel_message["$ref"]).removeprefix("components/messages/")]
        payload = message["payload"]
        for ref in payload.get("oneOf", [payload]):
            schema = schemas[_pointer(ref["$ref"]).removeprefix("components/schemas/")]
            event_type = schema.get("properties", {}).get("type", {}).get("const")
            if event_type is not None:  # the dead-letter topic carries any record, not one event type
                found.append(event_type)
    return found


def _pointer(ref: str) -> str:
    return unquote(ref.removeprefix("#/")).replace("~1", "/").replace("~0", "~")


def flows(directory: Path = ASYNCAPI_DIR) -> dict[str, tuple[list[str], list[str]]]:
    """Event type → (who writes it, who reads it), from the `send` and `receive` operations of the AsyncAPI documents."""
    out: dict[str, tuple[list[str], list[str]]] = {cls.event_type(): ([], []) for cls in EVENT_CLASSES}
    for party in PARTIES:
        document = yaml.safe_load((directory / f"{party}.yaml").read_text())
        for operation in document["operations"].values():
            if _address(document, operation) == PartnerTopics.FEED_ADDRESS:
                continue  # the partner feed carries the same types cut to the allow-list: its own table (`partner_feed`)
            writers_or_readers = 0 if operation["action"] == "send" else 1
            for event_type in _event_types(document, operation):
                names = out.setdefault(event_type, ([], []))[writers_or_readers]
                if party not in names:
                    names.append(party)
    return out


def _address(document: dict[str, Any], operation: dict[str, Any]) -> str:
    return document["channels"][_pointer(operation["channel"]["$ref"]).removeprefix("channels/")]["address"]


def partner_feed() -> str:
    """The partner feed as Markdown: each type a bank receives and the fields it keeps (`shared.events.partner`)."""
    out = [
        f"A bank's feed `{PartnerTopics.FEED_ADDRESS}` (written by notifications, read by that bank only) carries these "
        "types, same envelope, `subject` and key as on the platform's stream, `dataschema` "
        "`urn:microcredit:schema:partner:<type>`, `data` cut to these fields:",
        "",
        "| type | fields a bank receives |",
        "|---|---|",
    ]
    for cls, fields in PARTNER_FIELDS.items():
        out.append(f"| `{cls.event_type()}` | {', '.join(f'`{f}`' for f in fields)} |")
    return "\n".join(out)


def _who(event_type: str, parties: list[str]) -> str:
    shown = [p.replace("-", " ") + (f" ({WHY[event_type, p]})" if (event_type, p) in WHY else "") for p in parties]
    return ", ".join(shown) or "—"


START, END = "<!-- catalogue:start -->", "<!-- catalogue:end -->"


def render() -> str:
    """The catalogue as Markdown: a table, then one entry per event type with its example."""
    who = flows()
    out = ["| type | topic | written by | read by |", "|---|---|---|---|"]
    for cls in EVENT_CLASSES:
        writers, readers = who[cls.event_type()]
        producer, consumers = _who(cls.event_type(), writers), _who(cls.event_type(), readers)
        out.append(f"| `{cls.event_type()}` | `{cls.topic}` | {producer} | {consumers} |")
    out += ["", partner_feed(), ""]
    for cls in EVENT_CLASSES:
        event_type = cls.event_type()
        writers, readers = who[event_type]
        producer, consumers = _who(event_type, writers), _who(event_type, readers)
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
