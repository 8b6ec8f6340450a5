"""`python -m deploy.kafka_security`: print the declaration, add a bank on the local broker, provision compose's broker."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.kafka_security import acls, bank_principal
from deploy.kafka_security.broker import provision_from_env
from deploy.local.kafka import LocalKafka
from deploy.local.kafka_tools import DEFAULT_STATE_DIR, local_bootstrap
from shared.events import PartnerTopics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.kafka_security", description="Kafka principals and ACLs of the platform (deploy/kafka_security).")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("acls", help="print the declaration (principal, resource, pattern, operations)")
    listing.add_argument("--json", action="store_true", help="one JSON list of rules (for manifests, e.g. Strimzi KafkaUser)")
    add = sub.add_parser("add-bank", help="create a bank's user, topics and ACLs on the running local broker")
    add.add_argument("bank_id")
    init = sub.add_parser("provision", help="compose: users, ACLs and topics on --bootstrap, passwords from MC_KAFKA_PASSWORD_*")
    init.add_argument("--bootstrap", required=True)
    args = parser.parse_args(argv)
    if args.command == "provision":
        print(provision_from_env(args.bootstrap, os.environ))
        return 0
    kafka = LocalKafka(args.state_dir)
    if args.command == "acls":
        if args.json:
            print(json.dumps([dataclasses.asdict(rule) for rule in acls(kafka.banks())], indent=2))
            return 0
        for rule in acls(kafka.banks()):
            print(f"User:{rule.principal:<28} {rule.resource_type:<6} {rule.pattern:<9} {rule.name:<45} {','.join(rule.operations)}")
        return 0
    bootstrap = local_bootstrap(args.state_dir)
    path = kafka.add_bank(args.bank_id, bootstrap)
    print(f"bank {args.bank_id}: user {bank_principal(args.bank_id)}, topics {', '.join(PartnerTopics.of_bank(args.bank_id))}")
    print(f"its client properties (hand them over privately): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
