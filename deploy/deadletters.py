"""`make deadletters ARGS="list|show|replay|discard …"`: the dead letters of the running platform's services, for ops.

It calls each service's `/operations/dead-letters` API (`shared/deadletters_api.py`) where `make run`
started it, with an access token of an ops person (`ops-durand` by default) from the local Keycloak,
and prints the answers as tables:

    make deadletters ARGS="list"                                  # pending dead letters of every service
    make deadletters ARGS="list --service servicing --status replayed --reason 'no loan'"
    make deadletters ARGS="show 3f0c…"                            # one in full: record, headers, audit
    make deadletters ARGS="replay 3f0c… 9a1e… --note 'loan opened'"
    make deadletters ARGS="replay --service servicing --reason 'rejected fr.microcredit.bank.payment.v1: …'"
    make deadletters ARGS="discard 3f0c… --reason 'test file sent by mistake'"

A dead letter's id belongs to one service: without `--service`, the command asks each for it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from deploy.local.identity import IdentityError, LocalIdentity
from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.services import SERVICES, read_manifest

ROUTE = "/operations/dead-letters"


class CommandError(Exception):
    """What the command says instead of a table (a refusal, an unknown id, the platform down)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='make deadletters ARGS="…"', description="List, show, replay or discard dead letters.")
    parser.add_argument("--as", dest="ops", default="ops-durand", help="the ops person whose token is used (default ops-durand)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="dead letters, newest first (pending ones unless --status says otherwise)")
    listing.add_argument("--service", choices=SERVICES, help="one service (default: every service)")
    listing.add_argument("--group", help="one consumer group, e.g. servicing-bank-payments")
    listing.add_argument("--reason", help="reasons containing this text (any case)")
    listing.add_argument("--status", choices=["pending", "replayed", "discarded", "all"], default="pending")
    listing.add_argument("--limit", type=int, default=50)
    show = commands.add_parser("show", help="one dead letter in full, with its audit")
    show.add_argument("id")
    show.add_argument("--service", choices=SERVICES)
    replay = commands.add_parser("replay", help="send dead letters back to their topic: by id, or every pending one of a reason")
    replay.add_argument("ids", nargs="*", metavar="id")
    replay.add_argument("--reason", help="replay every pending dead letter whose reason is exactly this (needs --service)")
    replay.add_argument("--note", help="what was fixed, for the audit")
    replay.add_argument("--service", choices=SERVICES)
    discard = commands.add_parser("discard", help="set a dead letter aside for good, with the reason")
    discard.add_argument("id")
    discard.add_argument("--reason", required=True, help="why it will not be replayed, for the audit")
    discard.add_argument("--service", choices=SERVICES)
    return parser


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            problem = response.json()
            fields = "".join(f"\n  {e['field']}: {e['message']} ({e['rule']})" for e in problem.get("errors", []))
            raise CommandError(f"{problem.get('title')} ({response.status_code}): {problem.get('detail')}{fields}")
        except ValueError:
            raise CommandError(f"{response.status_code}: {response.text}") from None
    return response.json()


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Columns aligned to their widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip() for line in (header, *rows))


def _short(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _where(letter: dict[str, Any]) -> str:
    return f"{letter['original_topic']}[{letter['original_partition']}]@{letter['original_offset']}"


def list_rows(service: str, letters: list[dict[str, Any]]) -> list[list[str]]:
    """One table line per dead letter."""
    return [
        [service, letter["id"], letter["status"], letter["consumer_group"], _where(letter), letter["event_type"] or "-",
         letter["dead_lettered_at"][:19], _short(letter["reason"], 70)]
        for letter in letters
    ]


def describe(service: str, letter: dict[str, Any]) -> str:
    """One dead letter in full."""
    fields = [
        ("service", service), ("id", letter["id"]), ("status", letter["status"]), ("group", letter["consumer_group"]),
        ("reason", letter["reason"]), ("original", _where(letter)),
        ("dead letter", f"{letter['dead_letter_topic']}[{letter['dead_letter_partition']}]@{letter['dead_letter_offset']}"),
        ("event", f"{letter['event_type'] or '-'} {letter['event_id'] or ''}".strip()), ("trace id", letter["trace_id"] or "-"),
        ("dead-lettered at", letter["dead_lettered_at"]), ("replay of", letter["replay_of"] or "-"),
        ("key", letter["key_text"] if letter["key_text"] is not None else f"base64:{letter['key_base64'] or ''}"),
        ("value", letter["value_text"] if letter["value_text"] is not None else f"base64:{letter['value_base64']}"),
    ]
    if letter.get("value_truncated"):
        kept = len(base64.b64decode(letter["value_base64"]))
        fields.append(("value cut", f"the first {kept} of {letter['original_size']} bytes (sha256 {letter['original_sha256']});"
                                    f" a replay sends the full record, read back from {_where(letter)}"))
    lines = [f"{name + ':':<18}{value}" for name, value in fields]
    lines += ["headers:"] + [f"  {name}: {value}" for name, value in letter["headers"].items()]
    if letter["detail"]:
        lines += ["detail:", *("  " + line for line in letter["detail"].splitlines())]
    audit = [[a["at"][:19], a["action"], a["actor"], a["why"] or "-",
              "-" if a["published_offset"] is None else f"[{a['published_partition']}]@{a['published_offset']}"] for a in letter["audit"]]
    lines += ["audit:", table(audit, ["AT", "ACTION", "WHO", "WHY", "SENT TO"]) if audit else "  (nothing done yet)"]
    return "\n".join(lines)


def run(args: argparse.Namespace, urls: dict[str, str], http: httpx.Client) -> str:
    """Do what the command says through the services' APIs; what to print."""

    def locate(dead_letter_id: str) -> str:
        for name in [args.service] if args.service else list(urls):
            if http.get(f"{urls[name]}{ROUTE}/{dead_letter_id}").status_code == 200:
                return name
        raise CommandError(f"no service keeps a dead letter {dead_letter_id}" + (f" ({args.service})" if args.service else ""))

    if args.command == "list":
        query = {k: v for k, v in {"group": args.group, "reason": args.reason, "limit": args.limit}.items() if v is not None}
        if args.status != "all":
            query["status"] = args.status
        rows, counts = [], []
        for name in [args.service] if args.service else list(urls):
            response = http.get(f"{urls[name]}{ROUTE}", params=query)
            letters = _answer(response)
            rows += list_rows(name, letters)
            counts.append(f"{name} {len(letters)} of {response.headers.get('X-Total-Count', '?')}")
        shown = table(rows, ["SERVICE", "ID", "STATUS", "GROUP", "ORIGINAL", "EVENT TYPE", "AT", "REASON"]) if rows else "no dead letters"
        return f"{shown}\n({'; '.join(counts)})"
    if args.command == "show":
        service = locate(args.id)
        return describe(service, _answer(http.get(f"{urls[service]}{ROUTE}/{args.id}")))
    if args.command == "replay":
        if bool(args.ids) == bool(args.reason):
            raise CommandError("name the dead letters to replay: ids, or --reason (with --service)")
        if args.reason:
            if not args.service:
                raise CommandError("--reason replays the dead letters of one service: add --service")
            body: dict[str, Any] = {"reason": args.reason}
            service = args.service
        else:
            services = {locate(i) for i in args.ids}
            if len(services) > 1:
                raise CommandError(f"these dead letters belong to several services ({', '.join(sorted(services))}): one command each")
            body, service = {"ids": args.ids}, services.pop()
        if args.note:
            body["note"] = args.note
        replayed = _answer(http.post(f"{urls[service]}/operations/dead-letter-replays", json=body))
        rows = list_rows(service, replayed)
        return (table(rows, ["SERVICE", "ID", "STATUS", "GROUP", "ORIGINAL", "EVENT TYPE", "AT", "REASON"]) + "\n" if rows else "") + \
            f"{len(replayed)} replayed"
    service = locate(args.id)
    discarded = _answer(http.post(f"{urls[service]}{ROUTE}/{args.id}/discard", json={"reason": args.reason}))
    return f"{discarded['id']} discarded"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = _parser()
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    services = read_manifest(state_dir / "run" / "platform.json").get("services") or {}  # where `make run` started them
    urls = {name: info["url"] for name, info in services.items() if name in SERVICES}  # type: ignore[union-attr]
    if not urls:
        parser.exit(1, "the platform is not running: `make run`\n")
    try:
        token = asyncio.run(LocalIdentity.of_state_dir(state_dir).person_token(args.ops))
    except (IdentityError, OSError, KeyError) as exc:
        parser.exit(1, f"no token for {args.ops}: {exc}\n")
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30.0) as http:
            print(run(args, urls, http))
    except CommandError as exc:
        parser.exit(1, f"{exc}\n")
    except httpx.HTTPError as exc:
        parser.exit(1, f"a service does not answer: {exc!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
