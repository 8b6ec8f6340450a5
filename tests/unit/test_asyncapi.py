"""The AsyncAPI documents: made from the code, up to date in docs/asyncapi/, valid for the official parser, and
the README's catalogue printed from them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy import asyncapi, catalogue
from shared.events import EVENT_CLASSES, PartnerTopics, Topics

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = REPO_ROOT / "tests" / "support" / "asyncapi"


def test_the_committed_documents_are_the_ones_the_code_makes() -> None:
    for path, text in asyncapi.rendered().items():
        assert path.is_file() and path.read_text() == text, f"{path.name} is out of date: run python -m deploy.asyncapi"
    assert {p.name for p in asyncapi.OUT_DIR.glob("*.yaml")} == {p.name for p in asyncapi.rendered()}


def test_each_service_sends_what_it_declares_and_receives_what_its_handlers_take() -> None:
    documents = {name: spec.to_jsonable() for name, spec in asyncapi.documents().items()}
    servicing = documents["servicing"]
    actions = {name: op["action"] for name, op in servicing["operations"].items()}

    assert actions["servicing:fr.microcredit.loan.disbursed.v1"] == "send"
    assert actions["servicing:microcredit.applications.v1"] == "receive"
    # The send operation's message carries the pydantic envelope's schema, `data` typed by its payload model.
    message = servicing["components"]["messages"]["servicing:fr.microcredit.loan.disbursed.v1:Message"]
    assert message["payload"] == {"$ref": "#/components/schemas/LoanDisbursed"}
    schema = servicing["components"]["schemas"]["LoanDisbursed"]
    assert schema["properties"]["type"]["const"] == "fr.microcredit.loan.disbursed.v1"
    assert schema["properties"]["data"] == {"$ref": "#/components/schemas/LoanDisbursedData"}
    # A receive operation: the events its handlers take, those of its topic only.
    received = servicing["components"]["messages"]["servicing:microcredit.applications.v1:SubscribeMessage"]
    assert received["payload"] == {"$ref": "#/components/schemas/LoanApproved"}
    notifications = documents["notifications"]["components"]["messages"]
    on_loans = notifications["notifications:microcredit.loans.v1:SubscribeMessage"]["payload"]["oneOf"]
    assert {"$ref": "#/components/schemas/PaymentMissed"} in on_loans
    assert {"$ref": "#/components/schemas/LoanApproved"} not in on_loans


def test_every_event_type_has_one_writer_and_each_reason_names_a_real_reader() -> None:
    flows = catalogue.flows()

    assert set(flows) == {cls.event_type() for cls in EVENT_CLASSES}
    for event_type, (writers, _) in flows.items():
        assert len(writers) == 1, f"{event_type} is written by {writers}"
    for event_type, reader in catalogue.WHY:
        assert reader in flows[event_type][1], f"{reader} does not read {event_type}: drop its reason in WHY"


def test_the_official_parser_finds_no_error_in_any_document() -> None:
    node = shutil.which("node")
    assert node, "node is needed to run the AsyncAPI parser"
    assert (VALIDATOR / "node_modules" / "@asyncapi" / "parser").is_dir(), "run deploy/bootstrap.sh (npm ci)"
    files = sorted(str(p) for p in asyncapi.OUT_DIR.glob("*.yaml"))
    assert len(files) == 7

    done = subprocess.run(
        [node, "validate.mjs", *files], cwd=VALIDATOR, capture_output=True, text=True, timeout=120, check=False
    )

    reports = [json.loads(line) for line in done.stdout.splitlines()]
    errors = [(r["file"], d) for r in reports for d in r["diagnostics"] if d["severity"] == 0]
    assert done.returncode == 0 and not errors, (errors, done.stderr)
    assert [r["file"] for r in reports] == files and all(r["parsed"] for r in reports)


def test_the_documents_name_the_topics_of_the_catalogue() -> None:
    addresses = {
        channel["address"]
        for path in asyncapi.OUT_DIR.glob("*.yaml")
        for channel in yaml.safe_load(path.read_text())["channels"].values()
    }

    # Every service also reads the dead-letter topic, to keep its own groups' dead letters for ops; each bank's feed
    # carries the catalogue's types cut for it.
    assert addresses == {cls.topic for cls in EVENT_CLASSES} | {Topics.DEAD_LETTER, PartnerTopics.FEED_ADDRESS}


def test_the_partner_topics_are_channels_of_a_bank_on_the_scram_secured_server() -> None:
    document = asyncapi.documents()["partner-banks"].to_jsonable()
    channels = {c["address"]: c for c in document["channels"].values()}

    assert set(channels) == {PartnerTopics.FEED_ADDRESS, PartnerTopics.DECISIONS_ADDRESS, PartnerTopics.PAYMENTS_ADDRESS}
    assert all(set(c["parameters"]) == {"bank_id"} and c["servers"] == [{"$ref": "#/servers/partners"}] for c in channels.values())
    assert document["servers"]["partners"]["security"] == [{"$ref": "#/components/securitySchemes/scram512"}]
    assert document["components"]["securitySchemes"]["scram512"]["type"] == "scramSha512"
    # What a bank reads on its feed: the partner schema of each type, without the fields it may not see.
    feed = document["components"]["schemas"]["PartnerLoanApprovedData"]["properties"]
    assert "counsellor_id" not in feed and {"application_id", "amount_cents", "annual_rate"} <= set(feed)
