"""`make deadletters`: what it asks the services and what it prints (the services answered by a stand-in)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from deploy.deadletters import CommandError, _parser, describe, run

ID = "0b8a4f7e-52b6-5d55-9a3c-6c1f4a7e2d10"
URLS = {"intake": "http://127.0.0.1:8001", "servicing": "http://127.0.0.1:8003"}
LETTER: dict[str, Any] = {
    "id": ID, "status": "pending", "consumer_group": "servicing-bank-payments",
    "reason": "rejected fr.microcredit.bank.payment.v1: no loan with id 5d2f…", "original_topic": "microcredit.partner-payments.credit-mutuel-nord.v1",
    "original_partition": 2, "original_offset": 41, "event_type": "fr.microcredit.bank.payment.v1",
    "event_id": "9c7e7a4e-1f7e-4a57-8a51-3f7f7b1d2c11", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "dead_lettered_at": "2026-03-02T08:30:00Z", "replay_of": None,
}
FULL = {**LETTER, "detail": "", "dead_letter_topic": "microcredit.dead-letter.v1", "dead_letter_partition": 0, "dead_letter_offset": 7,
        "key_text": "5d2f", "key_base64": "NWQyZg==", "value_text": "{}", "value_base64": "e30=", "headers": {"content-type": "application/cloudevents+json"},
        "value_truncated": False, "original_size": None, "original_sha256": None, "audit": []}


def service_stand_in(sent: list[tuple[str, str, Any]]) -> httpx.Client:
    """Servicing keeps one dead letter; intake none."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, str(request.url), body))
        servicing = request.url.port == 8003
        if request.url.path == "/operations/dead-letters":
            letters = [LETTER] if servicing else []
            return httpx.Response(200, json=letters, headers={"X-Total-Count": str(len(letters))})
        if not servicing:
            return httpx.Response(404, json={"title": "dead letter not found", "status": 404, "detail": f"no dead letter with id {ID}"})
        if request.url.path.endswith(("/replay", "-replays")):
            return httpx.Response(200, json=[{**LETTER, "status": "replayed"}])
        if request.url.path.endswith("/discard"):
            return httpx.Response(409, json={"title": "Not pending", "status": 409, "detail": "dead letter is replayed",
                                             "errors": [{"field": "status", "rule": "not_pending", "message": "only a pending one"}]})
        return httpx.Response(200, json=FULL)

    return httpx.Client(transport=httpx.MockTransport(answer))


def command(*argv: str) -> tuple[str, list[tuple[str, str, Any]]]:
    sent: list[tuple[str, str, Any]] = []
    return run(_parser().parse_args(argv), URLS, service_stand_in(sent)), sent


def test_list_asks_every_service_for_its_pending_dead_letters_and_prints_a_table() -> None:
    printed, sent = command("list", "--reason", "no loan")

    assert [(m, u.split("?")[0]) for m, u, _ in sent] == [("GET", f"{url}/operations/dead-letters") for url in URLS.values()]
    assert all("status=pending" in u and "reason=no+loan" in u for _, u, _ in sent)
    header, line, counts = printed.splitlines()
    assert header.split() == ["SERVICE", "ID", "STATUS", "GROUP", "ORIGINAL", "EVENT", "TYPE", "AT", "REASON"]
    assert line.split()[:6] == ["servicing", ID, "pending", "servicing-bank-payments", "microcredit.partner-payments.credit-mutuel-nord.v1[2]@41", "fr.microcredit.bank.payment.v1"]
    assert counts == "(intake 0 of 0; servicing 1 of 1)"


def test_show_finds_the_service_keeping_the_id() -> None:
    printed, _ = command("show", ID)

    assert "service:          servicing" in printed and "original:         microcredit.partner-payments.credit-mutuel-nord.v1[2]@41" in printed
    assert "(nothing done yet)" in printed


def test_show_says_when_the_value_is_only_the_start_of_a_record_too_large_for_the_topic() -> None:
    cut = {**FULL, "value_text": '{"relevé": "VIR', "value_base64": "eyJyZWxldsOpIjogIlZJUg==", "value_truncated": True,
           "original_size": 1_048_000, "original_sha256": "5e" * 32}

    printed = describe("servicing", cut)

    assert (f"value cut:        the first 16 of 1048000 bytes (sha256 {'5e' * 32}); a replay sends the full record,"
            " read back from microcredit.partner-payments.credit-mutuel-nord.v1[2]@41") in printed.splitlines()
    assert "value cut" not in describe("servicing", FULL)


def test_replay_sends_the_selection_and_the_note_to_that_service() -> None:
    printed, sent = command("replay", ID, "--note", "loan opened")

    assert sent[-1] == ("POST", f"{URLS['servicing']}/operations/dead-letter-replays", {"ids": [ID], "note": "loan opened"})
    assert printed.endswith("1 replayed") and "replayed" in printed.splitlines()[1]


def test_a_refusal_is_said_with_its_rule() -> None:
    with pytest.raises(CommandError, match=r"Not pending \(409\).*\n  status: only a pending one \(not_pending\)"):
        command("discard", ID, "--reason", "test file")
    with pytest.raises(CommandError, match="add --service"):
        command("replay", "--reason", "rejected")
