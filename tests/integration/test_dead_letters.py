"""Dead letters ops can act on, on the real broker and database: listed with their reason, group and coordinates,
replayed once the cause is fixed (applied once), discarded with a written reason, every action audited."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from services.servicing.domain import loan_id_for
from shared.events import BankPayment, BankPaymentData, PartnerTopics, Topics, new_event
from shared.events.envelope import Envelope
from shared.oversized_dead_letters import PREVIEW_BYTES
from tests.integration.conftest import NOW, TODAY, RunningService, loan_approved, run_service, topic_of
from tests.support import tokens
from tests.support.infra import kafka_client

pytestmark = pytest.mark.integration

OPS = tokens.bearer(tokens.ops())
BANK = tokens.bearer(tokens.bank())
COUNSELLOR = tokens.bearer(tokens.counsellor())
GROUP = "servicing-bank-payments"
PAYMENTS = PartnerTopics.payments("credit-mutuel-nord")
DEAD_LETTERS = "/operations/dead-letters"
DEAD_LETTER_REPLAYS = "/operations/dead-letter-replays"
Coordinates = tuple[str, int, int]


@pytest.fixture
async def servicing(kafka: str, database: str) -> AsyncIterator[RunningService]:
    """Servicing in this process on the real broker, its database of its own; nothing waits parked."""
    # A payment for a loan it does not know is parked, then dead-lettered at the first retry (200 ms later).
    async with run_service("servicing", database, kafka=kafka, consumer_park_max_seconds=0, consumer_park_retry_seconds=0.2) as service:
        yield service


def bank_payment(loan_id: UUID, reference: str = "VIR-2026-03-02-0001") -> BankPayment:
    """Crédit Mutuel Nord's first 87.91 € repayment, on its payments topic."""
    return new_event(
        BankPayment, source="/banks/credit-mutuel-nord", subject=str(loan_id), time=NOW,
        data=BankPaymentData(loan_id=loan_id, bank_id="credit-mutuel-nord", bank_reference=reference, amount_cents=8_791, received_on=TODAY),
    )


async def produce(kafka: str, topic: str, value: bytes, key: bytes, content_type: bytes = b"application/cloudevents+json") -> Coordinates:
    """Write one record as a partner's system would; where it landed."""
    producer = AIOKafkaProducer(**kafka_client(kafka), enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value=value, key=key, headers=[("content-type", content_type)])
        return topic, sent.partition, sent.offset
    finally:
        await producer.stop()


async def produce_event(kafka: str, event: Envelope[Any]) -> Coordinates:
    """Write an event on its topic, keyed by its subject."""
    return await produce(kafka, topic_of(event), event.to_bytes(), event.subject.encode())


async def eventually(probe: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll an async probe until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (found := await probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return found


async def listed(service: RunningService, where: Coordinates, **filters: str) -> dict[str, Any]:
    """The dead letter of the record at `where`, once the list shows it."""

    async def probe() -> dict[str, Any] | None:
        answer = await service.http.get(DEAD_LETTERS, params={"group": GROUP, "limit": 500, **filters}, headers=OPS)
        assert answer.status_code == 200, answer.text
        return next((d for d in answer.json() if (d["original_topic"], d["original_partition"], d["original_offset"]) == where), None)

    return await eventually(probe, f"the dead letter of {where}")


async def processed(kafka: str, where: Coordinates, group: str = GROUP) -> None:
    """Wait until `group` committed past the record at `where`: it was fully handled."""
    admin = AIOKafkaAdminClient(**kafka_client(kafka))
    await admin.start()
    try:

        async def past() -> bool:
            found = (await admin.list_consumer_group_offsets(group)).get(TopicPartition(where[0], where[1]))
            return found is not None and found.offset > where[2]

        await eventually(past, f"{group} to handle {where}")
    finally:
        await admin.close()


async def read(service: RunningService, dead_letter_id: str) -> dict[str, Any]:
    answer = await service.http.get(f"{DEAD_LETTERS}/{dead_letter_id}", headers=OPS)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def payments(service: RunningService, loan_id: UUID) -> list[dict[str, Any]]:
    answer = await service.http.get(f"/loans/{loan_id}/payments", headers=BANK)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_ops_replay_dead_letters_once_the_cause_is_fixed_and_the_event_applies_once(servicing: RunningService, kafka: str) -> None:
    application_id = uuid4()
    loan_id = loan_id_for(application_id)
    payment = bank_payment(loan_id)
    # The bank's payment arrives before servicing knows the loan and waits past the delay; the bank sends it
    # again (a copy that comes while the first still waits is the same event: parked once): two dead letters.
    first = await produce_event(kafka, payment)
    dead = await listed(servicing, first, reason=str(loan_id))
    again = await produce_event(kafka, payment)
    copy = await listed(servicing, again, reason=str(loan_id))

    assert dead["status"] == "pending" and dead["consumer_group"] == GROUP
    assert dead["reason"] == f"too early for {payment.type}, parked longer than 0 s: no loan {loan_id} yet: its approval has not arrived"
    assert (dead["event_id"], dead["event_type"]) == (str(payment.id), payment.type)
    assert re.fullmatch(r"[0-9a-f]{32}", dead["trace_id"])
    assert (copy["event_id"], copy["reason"]) == (dead["event_id"], dead["reason"]) and copy["id"] != dead["id"]
    pending = await servicing.http.get(DEAD_LETTERS, params={"reason": str(loan_id).upper(), "status": "pending"}, headers=OPS)
    assert pending.headers["X-Total-Count"] == "2" and {d["id"] for d in pending.json()} == {dead["id"], copy["id"]}
    full = await read(servicing, dead["id"])
    assert base64.b64decode(full["value_base64"]) == payment.to_bytes() and full["key_text"] == str(loan_id)
    assert full["headers"]["content-type"] == "application/cloudevents+json" and full["audit"] == []

    # A counsellor sees none of it and can do nothing with it.
    for method, path, body in (("GET", DEAD_LETTERS, None), ("GET", f"{DEAD_LETTERS}/{dead['id']}", None),
                               ("POST", f"{DEAD_LETTERS}/{dead['id']}/replay", {}), ("POST", DEAD_LETTER_REPLAYS, {"ids": [dead["id"]]}),
                               ("POST", f"{DEAD_LETTERS}/{dead['id']}/discard", {"reason": "Doublon."})):
        refused = await servicing.http.request(method, path, json=body, headers=COUNSELLOR)
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json", (method, path)

    # The cause is fixed: the approval reaches servicing, the bank disburses.
    await produce_event(kafka, loan_approved(application_id))
    await eventually(lambda: _status(servicing, f"/loans/{loan_id}", 200), "the loan to be opened")
    disbursed = await servicing.http.post(f"/loans/{loan_id}/disbursement", json={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}, headers=BANK)
    assert disbursed.status_code == 200, disbursed.text

    replayed = await servicing.http.post(f"{DEAD_LETTERS}/{dead['id']}/replay", json={"note": "Prêt ouvert et décaissé."}, headers=OPS)

    assert replayed.status_code == 200, replayed.text
    [audit] = replayed.json()["audit"]
    assert replayed.json()["status"] == "replayed"
    assert (audit["action"], audit["actor"], audit["at"], audit["why"]) == ("replayed", "ops-durand", NOW.isoformat().replace("+00:00", "Z"), "Prêt ouvert et décaissé.")
    await processed(kafka, (PAYMENTS, audit["published_partition"], audit["published_offset"]))
    assert [p["bank_reference"] for p in await payments(servicing, loan_id)] == ["VIR-2026-03-02-0001"]

    # The second copy: the event was applied already, its replay changes nothing.
    by_selection = await servicing.http.post(DEAD_LETTER_REPLAYS, json={"ids": [copy["id"]]}, headers=OPS)

    assert by_selection.status_code == 200, by_selection.text
    assert [(d["id"], d["status"]) for d in by_selection.json()] == [(copy["id"], "replayed")]
    [audit] = (await read(servicing, copy["id"]))["audit"]
    await processed(kafka, (PAYMENTS, audit["published_partition"], audit["published_offset"]))
    assert len(await payments(servicing, loan_id)) == 1
    assert len(await servicing.fetch("select 1 from inbox where event_id = $1", payment.id)) == 1
    assert (await servicing.http.get(DEAD_LETTERS, params={"reason": str(loan_id), "status": "pending"}, headers=OPS)).json() == []

    # Replay is only for a pending dead letter.
    again_refused = await servicing.http.post(f"{DEAD_LETTERS}/{dead['id']}/replay", headers=OPS)
    assert again_refused.status_code == 409 and again_refused.json()["errors"][0]["rule"] == "not_pending"
    assert (await servicing.http.post(DEAD_LETTER_REPLAYS, json={"ids": [dead["id"]]}, headers=OPS)).status_code == 409


async def _status(service: RunningService, path: str, status: int) -> bool:
    return (await service.http.get(path, headers=BANK)).status_code == status


async def test_a_replay_that_still_fails_is_a_new_dead_letter_and_a_discard_needs_a_written_reason(servicing: RunningService, kafka: str) -> None:
    never_opened = uuid4()
    payment = bank_payment(never_opened)
    dead = await listed(servicing, await produce_event(kafka, payment), reason=str(never_opened))

    # Replayed too early: the loan still does not exist, the event fails again.
    replayed = await servicing.http.post(f"{DEAD_LETTERS}/{dead['id']}/replay", headers=OPS)
    assert replayed.status_code == 200, replayed.text
    [audit] = replayed.json()["audit"]
    new = await listed(servicing, (PAYMENTS, audit["published_partition"], audit["published_offset"]), reason=str(never_opened))

    assert new["id"] != dead["id"] and new["status"] == "pending" and new["replay_of"] == dead["id"]
    assert (new["event_id"], new["reason"]) == (dead["event_id"], dead["reason"])
    assert (await read(servicing, dead["id"]))["status"] == "replayed"
    # Nothing replays on its own: the new dead letter stays pending until ops act.
    await asyncio.sleep(2)
    assert (await servicing.http.get(DEAD_LETTERS, params={"reason": str(never_opened)}, headers=OPS)).headers["X-Total-Count"] == "2"

    # A record that is not even JSON is kept too, its bytes as they came, whatever its content type claims.
    garbage = await listed(
        servicing, await produce(kafka, PAYMENTS, b"\xffVIR;8791;2026-03-02", b"lot-0302", b"application/json"),
        reason="invalid envelope",
    )
    assert (garbage["event_id"], garbage["event_type"]) == (None, None)
    kept = await read(servicing, garbage["id"])
    assert (kept["value_text"], base64.b64decode(kept["value_base64"])) == (None, b"\xffVIR;8791;2026-03-02")

    # Discarding needs a written reason.
    for body, rule in (({}, "missing"), ({"reason": "   "}, "blank")):
        refused = await servicing.http.post(f"{DEAD_LETTERS}/{garbage['id']}/discard", json=body, headers=OPS)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        assert {"field": "reason", "rule": rule} in [{k: e[k] for k in ("field", "rule")} for e in refused.json()["errors"]]
    why = "Fichier de test de la banque, envoyé par erreur sur le topic de production."
    discarded = await servicing.http.post(f"{DEAD_LETTERS}/{garbage['id']}/discard", json={"reason": why}, headers=OPS)

    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["status"] == "discarded"
    assert [(a["action"], a["actor"], a["why"]) for a in discarded.json()["audit"]] == [("discarded", "ops-durand", why)]
    assert (await servicing.http.post(f"{DEAD_LETTERS}/{garbage['id']}/replay", headers=OPS)).status_code == 409
    assert (await servicing.http.post(f"{DEAD_LETTERS}/{garbage['id']}/discard", json={"reason": why}, headers=OPS)).status_code == 409

    # The gauge counts the group's pending dead letters.
    pending = await servicing.http.get(DEAD_LETTERS, params={"group": GROUP, "status": "pending", "limit": 1}, headers=OPS)
    metrics = (await servicing.http.get("/metrics")).text
    gauge = re.search(rf'^microcredit_dead_letters_pending{{group="{GROUP}"}} (\S+)$', metrics, re.M)
    assert gauge is not None and float(gauge.group(1)) == int(pending.headers["X-Total-Count"])


# --- a record too large to be dead-lettered as it is -------------------------------------------------


async def largest_accepted(kafka: str, topic: str) -> int:
    """The topic's `max.message.bytes` as the broker reports it: the largest record batch it accepts."""
    admin = AIOKafkaAdminClient(**kafka_client(kafka))
    await admin.start()
    try:
        [answer] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        [(error, _, _, _, entries)] = answer.resources
        assert error == 0, answer
        return int(next(value for name, value, *_ in entries if name == "max.message.bytes"))
    finally:
        await admin.close()


def batch_bytes(key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    """What the broker compares with `max.message.bytes`: the batch holding this one record, as sent."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, producer_id=1, producer_epoch=0, base_sequence=0, batch_size=2**31 - 1)
    builder.append(0, timestamp=int(time.time() * 1000), key=key, value=value, headers=headers)
    return len(builder.build())


async def produce_large(kafka: str, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Coordinates:
    """Write a record the client does not judge (its own 1 MiB check off): the broker alone accepts or refuses it."""
    producer = AIOKafkaProducer(**kafka_client(kafka), enable_idempotence=True, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        return topic, sent.partition, sent.offset
    finally:
        await producer.stop()


async def record_at(kafka: str, where: Coordinates) -> Any:
    consumer = AIOKafkaConsumer(**kafka_client(kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(where[0], where[1])
        consumer.assign([tp])
        consumer.seek(tp, where[2])
        return (await consumer.getmany(tp, timeout_ms=10_000, max_records=1))[tp][0]
    finally:
        await consumer.stop()


async def dead_letter_of(service: RunningService, where: Coordinates, group: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await service.http.get(DEAD_LETTERS, params={"group": group, "limit": 500}, headers=OPS)
        found = [d for d in answer.json() if (d["original_topic"], d["original_partition"], d["original_offset"]) == where]
        return await read(service, found[0]["id"]) if found else None

    return await eventually(probe, f"the dead letter of {where}")


async def test_a_record_at_the_brokers_size_limit_is_dead_lettered_cut_its_partition_flows_and_replays_from_its_topic(
    servicing: RunningService, kafka: str
) -> None:
    application_id = uuid4()
    key, headers = str(application_id).encode(), [("content-type", b"application/json")]
    # A bank's export pasted on the applications topic: JSON, no CloudEvents envelope, as large as the broker takes.
    limit = await largest_accepted(kafka, Topics.APPLICATIONS)
    start = '{"relevé": "'.encode()  # 13 bytes, then two-byte characters: the cut falls inside one

    def export(size: int) -> bytes:
        body = size - len(start) - 2
        return start + ("é" * (body // 2) + "a" * (body % 2)).encode() + b'"}'

    size = limit - batch_bytes(key, export(100), headers) + 100
    while batch_bytes(key, export(size), headers) > limit:  # the length varints grow with the value
        size -= 1
    value = export(size)
    assert batch_bytes(key, value, headers) == limit
    with pytest.raises(MessageSizeTooLargeError):  # one byte more and the broker refuses it: this one is at the limit
        await produce_large(kafka, Topics.APPLICATIONS, export(size + 1), key, headers)

    huge = await produce_large(kafka, Topics.APPLICATIONS, value, key, headers)
    behind = await produce_event(kafka, loan_approved(application_id))

    # The partition flows: the approval behind it on the same partition opens the loan.
    assert behind[:2] == huge[:2] and behind[2] > huge[2]
    await eventually(lambda: _status(servicing, f"/loans/{loan_id_for(application_id)}", 200), "the loan behind the record to open")
    dead = await dead_letter_of(servicing, huge, "servicing")
    assert dead["status"] == "pending" and dead["reason"].startswith("invalid envelope: ")
    assert dead["value_truncated"] and dead["original_size"] == len(value)
    assert dead["original_sha256"] == hashlib.sha256(value).hexdigest()
    kept = base64.b64decode(dead["value_base64"])
    assert value.startswith(kept) and len(kept) == PREVIEW_BYTES - 1 and dead["value_text"] == kept.decode()  # not inside a character
    assert dead["headers"]["content-type"] == "application/json" and dead["key_text"] == str(application_id)

    # The replay sends the full record, read back from its topic (no room left for the replay header at the limit).
    replayed = await servicing.http.post(f"{DEAD_LETTERS}/{dead['id']}/replay", json={"note": "Relu depuis le sujet."}, headers=OPS)
    assert replayed.status_code == 200, replayed.text
    [audit] = replayed.json()["audit"]
    again = (Topics.APPLICATIONS, audit["published_partition"], audit["published_offset"])
    copy = await record_at(kafka, again)
    assert (copy.key, copy.value, again[1]) == (key, value, huge[1])
    second = await dead_letter_of(servicing, again, "servicing")
    assert second["value_truncated"] and second["original_sha256"] == dead["original_sha256"]

    # Once retention has removed the original record, its cut dead letter cannot be replayed: a clear refusal.
    admin = AIOKafkaAdminClient(**kafka_client(kafka))
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(Topics.APPLICATIONS, again[1]): RecordsToDelete(again[2] + 1)})
    finally:
        await admin.close()
    refused = await servicing.http.post(f"{DEAD_LETTERS}/{second['id']}/replay", headers=OPS)

    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["rule"] == "original_gone"
    assert "la rétention l'a effacé" in refused.json()["detail"] and "écartée" in refused.json()["detail"]
    assert (await read(servicing, second["id"]))["status"] == "pending"
