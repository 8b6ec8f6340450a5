"""Start, stop and inspect the local Kafka broker and Postgres cluster: ``python -m deploy.local.infra``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.local import REPO_ROOT
from deploy.local.kafka import KafkaError, KafkaStatus, LocalKafka
from deploy.local.postgres import LocalPostgres, PostgresError, PostgresStatus

DEFAULT_STATE_DIR = REPO_ROOT / ".local"


def start_infra(state_dir: Path = DEFAULT_STATE_DIR) -> tuple[str, str]:
    """Start (or reuse) Postgres and Kafka under ``state_dir``; return (kafka bootstrap, postgres DSN)."""
    postgres = LocalPostgres(state_dir)
    postgres_was_running = postgres.status().running
    dsn = postgres.start()  # first: about a second, and it fails fast on a broken install
    try:
        bootstrap = LocalKafka(state_dir).start()
    except BaseException:
        # Leave the machine as we found it: a half-started platform is worse than none.
        if not postgres_was_running:
            postgres.stop()
        raise
    return bootstrap, dsn


def stop_infra(state_dir: Path = DEFAULT_STATE_DIR) -> None:
    """Stop Kafka and Postgres under ``state_dir`` (each is a no-op when already down)."""
    errors: list[str] = []
    # Stop both even if one fails, then report every failure together.
    for service in (LocalKafka(state_dir), LocalPostgres(state_dir)):
        try:
            service.stop()
        except (KafkaError, PostgresError, OSError) as err:
            errors.append(str(err))
    if errors:
        raise RuntimeError("\n".join(errors))


def infra_status(state_dir: Path = DEFAULT_STATE_DIR) -> tuple[KafkaStatus, PostgresStatus]:
    """Return the status of the Kafka broker and the Postgres cluster under ``state_dir``."""
    return LocalKafka(state_dir).status(), LocalPostgres(state_dir).status()


def _print_status(kafka: KafkaStatus, postgres: PostgresStatus, as_json: bool) -> None:
    """Print both statuses, one line each (or one JSON object)."""
    if as_json:
        print(json.dumps({
            "kafka": {"running": kafka.running, "pid": kafka.pid, "bootstrap": kafka.address},
            "postgres": {"running": postgres.running, "pid": postgres.pid, "dsn": postgres.dsn},
        }))
        return
    for name, running, pid, address in (
        ("kafka", kafka.running, kafka.pid, kafka.address),
        ("postgres", postgres.running, postgres.pid, postgres.dsn),
    ):
        state = f"running (pid {pid})" if running else "stopped"
        print(f"{name:<9} {state:<22} {address or '-'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; exit code 0 on success (for ``status``: only when both are running)."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.infra",
        description="Real Kafka (KRaft, single node) and Postgres on this machine, without Docker.",
    )
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR,
        help=f"where data, logs, pid and port files live (default: {DEFAULT_STATE_DIR})",
    )
    parser.add_argument("--json", action="store_true", help="print the status as one JSON object")
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir

    try:
        if args.command == "start":
            bootstrap, dsn = start_infra(state_dir)
            if not args.json:
                print(f"KAFKA_BOOTSTRAP={bootstrap}")
                print(f"POSTGRES_DSN={dsn}")
        elif args.command == "stop":
            stop_infra(state_dir)
    except (KafkaError, PostgresError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    kafka, postgres = infra_status(state_dir)
    if args.command != "start" or args.json:
        _print_status(kafka, postgres, args.json)
    if args.command == "status":
        return 0 if kafka.running and postgres.running else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
