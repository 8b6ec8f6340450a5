"""Who may do what on the broker: one principal per service and per partner bank, ACLs of least privilege.

THE declaration (issue 13). The local broker (deploy/local/kafka.py) creates these SCRAM-SHA-512 users and
applies these ACLs at each start; docker-compose.yml runs the same provisioning; the Kubernetes manifests
mirror `acls()` into Strimzi `KafkaUser` resources. Everything here is plain data: `Acl(principal, resource
type, name, pattern type, operations)`. The broker denies whatever is not granted
(`allow.everyone.if.no.acl.found=false`); only `admin` (provisioning, tests, ops tools) is a super user.

What each service may do, derived from what it really does (tests/unit/test_kafka_security.py builds every
service and checks its consumer groups and publishers against `SERVICES`):
  - Write its own streams (what its outbox relay publishes) and the dead-letter topic (its consumers dead-letter);
  - Read the topics it consumes, under its own consumer groups only (literal group names);
  - Write the topics it consumes too: ops replay a dead letter to its original topic from the service that
    dead-lettered it (shared/deadletters.py). This is the one grant beyond "writes only its own streams"; a
    retry topic owned by each group would remove it.
  - Describe the platform's topics (metadata and end offsets, no record): the lag and topic-size gauges
    (shared/metrics_refresh.py).
A bank reads only its feed, with consumer groups prefixed `partner.<bank>.`, and writes only its decisions and
payments topics (literal ACLs, its own). The services' grants on the banks' topics are prefixed, one per kind
(`PartnerTopics`: each kind has a prefix of its own): assessment reads (and may replay to) every
`microcredit.partner-decisions.` topic, servicing every `microcredit.partner-payments.` topic, notifications
writes every feed `microcredit.partner.` and may create a new bank's three topics; none of them can read a feed.
A bank the directory adds later is served at once (notifications creates its topics, the pattern subscriptions
find them); only the bank's own user and ACLs are added by ops: `python -m deploy.kafka_security add-bank
<bank-id>` (README, partner quick-start).
Kafka's internal topics (`__consumer_offsets`, …) are granted to no one. The web workspace has no principal: it
speaks only HTTP to the services.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import secrets
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.events import PartnerTopics, Topics
from shared.kafka_auth import KafkaLogin

REPO_ROOT = Path(__file__).resolve().parents[1]
DIRECTORY_SEED = REPO_ROOT / "deploy" / "directory" / "seed.json"

ADMIN = "admin"  # super user: provisioning, tests and ops tools; never given to a service
BANK_PRINCIPAL_PREFIX = "bank-"


@dataclass(frozen=True)
class Acl:
    """One ALLOW rule: `principal` may do `operations` on the resource (`pattern` literal or prefixed)."""

    principal: str  # a SCRAM user name; Kafka names it `User:<principal>`
    resource_type: str  # topic, group, cluster
    name: str
    pattern: str  # literal, prefixed
    operations: tuple[str, ...]  # Kafka's operation names: Read, Write, Describe, …


@dataclass(frozen=True)
class ServiceAccess:
    """What one service does on Kafka: the streams it owns, per consumer group the topics it reads (literal names,
    or the prefix its pattern subscription matches), and the banks' topics it may create."""

    writes: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]]
    creates: tuple[str, ...] = ()  # topic prefixes


def _dead_letters(service: str) -> dict[str, tuple[str, ...]]:
    # shared/deadletters.py: each service keeps its own groups' dead letters under a group of its own.
    return {f"{service}-dead-letters": (Topics.DEAD_LETTER,)}


PARTNER_PREFIXES = PartnerTopics.PREFIXES


def services() -> dict[str, ServiceAccess]:
    """Each service's streams and consumer groups; the banks' topics by their prefixes (`PARTNER_PREFIXES`)."""
    return {
        "intake": ServiceAccess(
            writes=(Topics.APPLICATIONS,),
            groups={"intake": (Topics.APPLICATIONS,), **_dead_letters("intake")},
        ),
        "assessment": ServiceAccess(
            writes=(Topics.APPLICATIONS,),
            groups={
                "assessment": (Topics.APPLICATIONS,),
                "assessment-bank-decisions": (PartnerTopics.DECISIONS_PREFIX,),
                "assessment-directory": (Topics.DIRECTORY,),
                **_dead_letters("assessment"),
            },
        ),
        "servicing": ServiceAccess(
            writes=(Topics.LOANS,),
            groups={
                "servicing": (Topics.APPLICATIONS,),
                "servicing-bank-payments": (PartnerTopics.PAYMENTS_PREFIX,),
                **_dead_letters("servicing"),
            },
        ),
        "notifications": ServiceAccess(
            writes=(Topics.ALERTS, PartnerTopics.PREFIX),
            groups={
                "notifications": (Topics.APPLICATIONS, Topics.LOANS),
                "notifications-directory": (Topics.DIRECTORY,),
                **_dead_letters("notifications"),
            },
            creates=PARTNER_PREFIXES,  # a bank the directory adds gets its three topics (services/notifications/partners.py)
        ),
        "directory": ServiceAccess(
            writes=(Topics.DIRECTORY,),
            groups={"directory": (Topics.APPLICATIONS,), **_dead_letters("directory")},
        ),
    }


def bank_principal(bank_id: str) -> str:
    """The SCRAM user of a partner bank."""
    PartnerTopics.feed(bank_id)  # refuses an id that cannot name a topic
    return f"{BANK_PRINCIPAL_PREFIX}{bank_id}"


def seed_banks(seed: Path = DIRECTORY_SEED) -> tuple[str, ...]:
    """The partner banks of the directory seed (deploy/directory/seed.json)."""
    return tuple(sorted(json.loads(seed.read_text())["banks"]))


def _topic(principal: str, name: str, *operations: str) -> Acl:
    pattern = "prefixed" if name in PARTNER_PREFIXES else "literal"
    return Acl(principal, "topic", name, pattern, operations)


def acls(banks: Iterable[str]) -> list[Acl]:
    """Every ACL of the platform for `banks`, services first, then banks (no duplicate resource per principal)."""
    banks = sorted(set(banks))
    out: list[Acl] = []
    for name, access in services().items():
        consumed = {t for topics in access.groups.values() for t in topics}
        writes = {*access.writes, Topics.DEAD_LETTER, *consumed}  # consumed: dead-letter replay (module docstring)
        described = set(Topics.all()) - writes - consumed  # the gauges' metadata and end offsets
        for topic in sorted(writes | consumed | described | set(access.creates)):
            ops = (
                (("Read",) if topic in consumed else ()) + (("Write",) if topic in writes else ())
                + (("Create",) if topic in access.creates else ()) + ("Describe",)
            )
            out.append(_topic(name, topic, *ops))
        out += [Acl(name, "group", group, "literal", ("Read", "Describe")) for group in sorted(access.groups)]
    for bank in banks:
        principal = bank_principal(bank)
        out.append(_topic(principal, PartnerTopics.feed(bank), "Read", "Describe"))
        out.append(_topic(principal, PartnerTopics.decisions(bank), "Write", "Describe"))
        out.append(_topic(principal, PartnerTopics.payments(bank), "Write", "Describe"))
        out.append(Acl(principal, "group", PartnerTopics.group_prefix(bank), "prefixed", ("Read", "Describe")))
    return out


def principals(banks: Iterable[str]) -> tuple[str, ...]:
    """Every SCRAM user: the admin, the services, the banks."""
    return (ADMIN, *services().keys(), *(bank_principal(b) for b in sorted(set(banks))))


# ----------------------------------------------------------------------------------------------- credentials


class Credentials:
    """The principals' passwords, random, in a JSON file of the git-ignored state dir (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, str]:
        """Every principal's password (empty before the first start)."""
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}

    def ensure(self, names: Iterable[str]) -> dict[str, str]:
        """Give a random password to each of `names` that has none yet; return them all."""
        known = self.read()
        missing = [n for n in names if n not in known]
        if missing:
            known.update({n: secrets.token_urlsafe(24) for n in missing})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(known, handle, indent=2)
            os.replace(self.path.with_suffix(".tmp"), self.path)
        return known

    def login(self, principal: str) -> KafkaLogin:
        """The credentials of `principal` (KeyError when it has none)."""
        return KafkaLogin(principal, self.read()[principal])


def write_private(path: Path, text: str) -> Path:
    """Write a file only its owner can read (a password is in it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path


# ------------------------------------------------------------------------------------ applying on the broker
# aiokafka has no Admin call for SCRAM users nor a batched ACL call: the requests are built from its protocol
# types (Kafka's AlterUserScramCredentials v0, CreateAcls v1, DescribeAcls v1, DeleteAcls v1).

_RESOURCE_TYPES = {"any": 1, "topic": 2, "group": 3, "cluster": 4, "transactional-id": 5}
_PATTERN_TYPES = {"any": 1, "literal": 3, "prefixed": 4}
_OPERATIONS = {
    "Any": 1, "All": 2, "Read": 3, "Write": 4, "Create": 5, "Delete": 6, "Alter": 7, "Describe": 8,
    "ClusterAction": 9, "DescribeConfigs": 10, "AlterConfigs": 11, "IdempotentWrite": 12,
}
_ALLOW = 3
_ANY = 1
_SCRAM_SHA_512 = 2
SCRAM_ITERATIONS = 4096


def _requests() -> tuple[type, type, type]:
    from aiokafka.protocol.admin import CreateAclsRequest_v1, DeleteAclsRequest_v1, DescribeAclsRequest_v1
    from aiokafka.protocol.api import Request, RequestStruct, Response
    from aiokafka.protocol.types import CompactArray, CompactBytes, CompactString, Int8, Int16, Int32, Schema, TaggedFields

    class AlterScramResponse(Response):
        API_KEY = 51
        API_VERSION = 0
        SCHEMA = Schema(
            ("throttle_time_ms", Int32),
            ("results", CompactArray(
                ("user", CompactString("utf-8")), ("error_code", Int16), ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            )),
            ("tags", TaggedFields),
        )

    class AlterScramStruct(RequestStruct):
        FLEXIBLE_VERSION = True
        API_KEY = 51
        API_VERSION = 0
        RESPONSE_TYPE = AlterScramResponse
        SCHEMA = Schema(
            ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
            ("upsertions", CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("iterations", Int32),
                ("salt", CompactBytes), ("salted_password", CompactBytes), ("tags", TaggedFields),
            )),
            ("tags", TaggedFields),
        )

    class AlterScram(Request[AlterScramStruct]):
        API_KEY = 51

        def __init__(self, upsertions: list[tuple[Any, ...]]) -> None:
            self._upsertions = upsertions

        def build(self, request_struct_class: type[AlterScramStruct]) -> AlterScramStruct:
            return request_struct_class([], self._upsertions, {})

    class Fixed(Request[CreateAclsRequest_v1 | DescribeAclsRequest_v1 | DeleteAclsRequest_v1]):
        """A request sent as it is built, at version 1 (the CreateAcls/DeleteAcls batches aiokafka's builders lack)."""

        API_KEY = 0

        def __init__(self, struct: Any) -> None:
            self._struct = struct
            self.API_KEY = struct.API_KEY  # type: ignore[misc]

        def prepare(self, versions: dict[int, tuple[int, int]]) -> Any:
            return self._struct

        def build(self, request_struct_class: Any) -> Any:
            return self._struct

    return AlterScram, Fixed, (CreateAclsRequest_v1, DescribeAclsRequest_v1, DeleteAclsRequest_v1)  # type: ignore[return-value]


def _acl_entries(rules: Iterable[Acl]) -> set[tuple[int, str, int, str, str, int, int]]:
    """The rules as Kafka's ACL bindings: (resource type, name, pattern type, principal, host, operation, permission)."""
    return {
        (_RESOURCE_TYPES[r.resource_type], r.name, _PATTERN_TYPES[r.pattern], f"User:{r.principal}", "*", _OPERATIONS[op], _ALLOW)
        for r in rules
        for op in r.operations
    }


def _check(errors: Iterable[tuple[int, str | None]], what: str) -> None:
    failed = [f"{code}: {message}" for code, message in errors if code]
    if failed:
        raise RuntimeError(f"{what} refused by the broker: {'; '.join(failed[:5])}")


async def apply(bootstrap: str, admin: KafkaLogin, passwords: Mapping[str, str], rules: Sequence[Acl]) -> dict[str, int]:
    """Create or update the SCRAM users of `passwords` and make the broker's ACLs exactly `rules`; idempotent.

    ACLs not in `rules` are deleted: the declaration is the whole truth. Returns what changed.
    """
    from aiokafka.client import AIOKafkaClient

    alter_scram, fixed, (create_v1, describe_v1, delete_v1) = _requests()
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000, **admin.aiokafka())
    await client.bootstrap()
    try:
        node = client.get_random_node()
        upserts = []
        for name, password in passwords.items():
            if name == ADMIN:
                continue  # created when the storage is formatted; changing it would lock the broker's own listener out
            salt = secrets.token_bytes(32)
            salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, SCRAM_ITERATIONS)
            upserts.append((name, _SCRAM_SHA_512, SCRAM_ITERATIONS, salt, salted, {}))
        if upserts:
            answer = await client.send(node, alter_scram(upserts))
            _check(((r[1], r[2]) for r in answer.results), "SCRAM users")

        described = await client.send(node, fixed(describe_v1(_ANY, None, _ANY, None, None, _ANY, _ANY)))
        _check([(described.error_code, described.error_message)], "DescribeAcls")
        existing = {
            (rtype, rname, ptype, principal, host, op, perm)
            for rtype, rname, ptype, entries in described.resources
            for principal, host, op, perm in entries
        }
        wanted = _acl_entries(rules)
        stale, missing = existing - wanted, wanted - existing
        if stale:
            answer = await client.send(node, fixed(delete_v1(sorted(stale))))
            _check(((r[0], r[1]) for r in answer.filter_responses), "DeleteAcls")
        if missing:
            answer = await client.send(node, fixed(create_v1(sorted(missing))))
            _check(((r[0], r[1]) for r in answer.creation_responses), "CreateAcls")
        return {"users": len(upserts), "acls_created": len(missing), "acls_deleted": len(stale)}
    finally:
        await client.close()


def provision(bootstrap: str, credentials: Credentials, banks: Iterable[str]) -> dict[str, int]:
    """Give every principal of `banks`' platform a password, then create the users and apply the ACLs."""
    from deploy.local.process import run_blocking

    banks = tuple(banks)
    passwords = credentials.ensure(principals(banks))
    return run_blocking(apply(bootstrap, credentials.login(ADMIN), passwords, acls(banks)))


def partner_properties(credentials: Credentials, bank_id: str, bootstrap: str, out_dir: Path) -> Path:
    """Write the bank's client properties file (`<out_dir>/<bank>.properties`, mode 0600) and return its path."""
    return write_private(out_dir / f"{bank_id}.properties", credentials.login(bank_principal(bank_id)).java_properties(bootstrap))


def password_variable(principal: str) -> str:
    """The environment variable of a principal's password in compose (`MC_KAFKA_PASSWORD_BANK_LA_BANQUE_POSTALE`)."""
    return "MC_KAFKA_PASSWORD_" + principal.upper().replace("-", "_").replace(".", "_")


def provision_from_env(bootstrap: str, environ: Mapping[str, str]) -> dict[str, int]:
    """Compose's `kafka-init`: the passwords from the environment (`.env`), users, ACLs and topics on `bootstrap`."""
    from deploy.local.process import run_blocking
    from deploy.local.topics import ensure_partner_topics, ensure_topics

    banks = seed_banks()
    passwords = {name: environ[password_variable(name)] for name in principals(banks)}
    admin = KafkaLogin(ADMIN, passwords[ADMIN])
    done = run_blocking(apply(bootstrap, admin, passwords, acls(banks)))
    run_blocking(ensure_topics(bootstrap, admin))
    run_blocking(ensure_partner_topics(bootstrap, admin, banks))
    return done


def main(argv: Sequence[str] | None = None) -> int:
    from deploy.local.kafka import LocalKafka
    from deploy.local.kafka_tools import DEFAULT_STATE_DIR, local_bootstrap

    parser = argparse.ArgumentParser(prog="python -m deploy.kafka_security", description=__doc__.split("\n")[0])
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
