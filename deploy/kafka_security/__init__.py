"""Who may do what on the broker: one principal per service and per partner bank, ACLs of least privilege.

THE declaration (issue 13); `broker.py` applies it, `python -m deploy.kafka_security` is its command line. The local
broker (deploy/local/kafka.py) creates these SCRAM-SHA-512 users and
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

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.events import PartnerTopics, Topics
from shared.kafka_auth import KafkaLogin

REPO_ROOT = Path(__file__).resolve().parents[2]
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


def _erasures(service: str) -> dict[str, tuple[str, ...]]:
    # Every service that holds rows about a file applies the privacy service's erasures, under a group of its own.
    return {f"{service}-erasures": (Topics.PRIVACY,)}


PARTNER_PREFIXES = PartnerTopics.PREFIXES


def services() -> dict[str, ServiceAccess]:
    """Each service's streams and consumer groups; the banks' topics by their prefixes (`PARTNER_PREFIXES`)."""
    return {
        "intake": ServiceAccess(
            writes=(Topics.APPLICATIONS,),
            groups={"intake": (Topics.APPLICATIONS,), **_erasures("intake"), **_dead_letters("intake")},
        ),
        "assessment": ServiceAccess(
            writes=(Topics.APPLICATIONS,),
            groups={
                "assessment": (Topics.APPLICATIONS,),
                **_erasures("assessment"),
                "assessment-bank-decisions": (PartnerTopics.DECISIONS_PREFIX,),
                "assessment-directory": (Topics.DIRECTORY,),
                **_dead_letters("assessment"),
            },
        ),
        "servicing": ServiceAccess(
            writes=(Topics.LOANS,),
            groups={
                "servicing": (Topics.APPLICATIONS,),
                **_erasures("servicing"),
                "servicing-bank-payments": (PartnerTopics.PAYMENTS_PREFIX,),
                **_dead_letters("servicing"),
            },
        ),
        "notifications": ServiceAccess(
            writes=(Topics.ALERTS, PartnerTopics.PREFIX),
            groups={
                "notifications": (Topics.APPLICATIONS, Topics.LOANS),
                **_erasures("notifications"),
                "notifications-directory": (Topics.DIRECTORY,),
                **_dead_letters("notifications"),
            },
            creates=PARTNER_PREFIXES,  # a bank the directory adds gets its three topics (services/notifications/partners.py)
        ),
        "directory": ServiceAccess(
            writes=(Topics.DIRECTORY,),
            groups={"directory": (Topics.APPLICATIONS,), **_dead_letters("directory")},
        ),
        # The DPO's service: reads where each file stands, writes the erasures every service applies.
        "privacy": ServiceAccess(
            writes=(Topics.PRIVACY,),
            groups={"privacy": (Topics.APPLICATIONS, Topics.LOANS), **_dead_letters("privacy")},
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


def partner_properties(credentials: Credentials, bank_id: str, bootstrap: str, out_dir: Path) -> Path:
    """Write the bank's client properties file (`<out_dir>/<bank>.properties`, mode 0600) and return its path."""
    return write_private(out_dir / f"{bank_id}.properties", credentials.login(bank_principal(bank_id)).java_properties(bootstrap))


def password_variable(principal: str) -> str:
    """The environment variable of a principal's password in compose (`MC_KAFKA_PASSWORD_BANK_LA_BANQUE_POSTALE`)."""
    return "MC_KAFKA_PASSWORD_" + principal.upper().replace("-", "_").replace(".", "_")
