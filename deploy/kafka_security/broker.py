"""Applying the declaration (`deploy.kafka_security`) on a broker: the SCRAM users and exactly its ACLs, idempotently."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from deploy.kafka_security import (
    ADMIN, Acl, Credentials, acls, password_variable, principals, seed_banks,
)
from shared.kafka_auth import KafkaLogin

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
