"""The directory as its own process: the local seed put through its API, and a change reaching the other processes' copies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
import pytest

from deploy.local.directory_seed import SEED, seed
from shared.events import BankDecision, BankDecisionData, PartnerTopics, new_event
from tests.e2e.conftest import RunningPlatform, eventually
from tests.support import tokens
from tests.support.infra import kafka_client

pytestmark = pytest.mark.e2e


async def test_the_seed_is_the_directory_and_putting_it_again_changes_nothing(platform: RunningPlatform, db: asyncpg.Connection) -> None:
    admin = await platform.bearer(tokens.admin())
    await asyncio.to_thread(seed, platform.urls["directory"], admin)  # the fixture seeded it once already

    async with httpx.AsyncClient(base_url=platform.urls["directory"], timeout=30) as client:
        secours = (await client.get("/associations/secours-catholique", headers=await platform.bearer(tokens.counsellor()))).json()
        people = await client.get("/contacts", params={"limit": 500}, headers=admin)
        audit = (await client.get("/contacts/c-lefebvre/audit", headers=admin)).json()

    seeded = json.loads(SEED.read_text(encoding="utf-8"))
    assert secours["partner_banks"] == ["credit-mutuel-nord", "la-banque-postale"]
    assert secours["regions"] == ["hauts-de-france"]
    assert {p["username"]: p["display_name"] for p in people.json()} == {
        username: body["display_name"] for username, body in seeded["contacts"].items()
    }
    assert {p["version"] for p in people.json()} == {1}
    assert [a["action"] for a in audit] == ["created"]
    assert await db.fetchval("select max(version) from assessment.directory_associations") == 1


async def test_a_change_reaches_assessment_and_notifications_running_processes(platform: RunningPlatform, db: asyncpg.Connection) -> None:
    admin = await platform.bearer(tokens.admin())
    async with httpx.AsyncClient(base_url=platform.urls["directory"], timeout=30) as client:
        network = (await client.get("/networks/restos-du-coeur-federation", headers=admin)).json()
        body = {k: network[k] for k in ("name", "min_remaining_per_unit_cents", "max_instalment_share")}
        changed = await client.put("/networks/restos-du-coeur-federation", json={**body, "max_instalment_share": "0.28"}, headers=admin)
        moved = await client.put("/contacts/s-roux", json={
            "display_name": "Martine Roux", "email": "martine.roux@restos-occitanie.example", "role": "supervisor",
            "association_id": "restos-du-coeur",
        }, headers=admin)
    assert (changed.status_code, moved.status_code) == (200, 200)

    async def assessment_knows() -> bool:
        share = await db.fetchval(
            "select max_instalment_share from assessment.directory_networks where network_id = 'restos-du-coeur-federation'"
        )
        return str(share) == "0.2800"

    async def notifications_knows() -> bool:
        return await db.fetchval("select email from notifications.directory_contacts where username = 's-roux'") == (
            "martine.roux@restos-occitanie.example"
        )

    await eventually(assessment_knows, what="assessment to learn the network's new share")
    await eventually(notifications_knows, what="notifications to learn the supervisor's new address")


async def test_a_bank_the_directory_adds_gets_its_topics_and_what_it_writes_there_is_read(platform: RunningPlatform) -> None:
    bank_id = f"banque-{uuid4().hex[:8]}"  # the test broker outlives one run: a bank of its own each time
    admin = await platform.bearer(tokens.admin())
    async with httpx.AsyncClient(base_url=platform.urls["directory"], timeout=30) as client:
        added = await client.put(f"/banks/{bank_id}", json={"name": "Banque Solidaire du Nord"}, headers=admin)
    assert added.status_code == 201, added.text

    async def topics_created() -> bool:
        admin_client = AIOKafkaAdminClient(**kafka_client(platform.kafka))
        await admin_client.start()
        try:
            return set(PartnerTopics.of_bank(bank_id)) <= set(await admin_client.list_topics())
        finally:
            await admin_client.close()

    await eventually(topics_created, what="notifications to create the new bank's three topics")
    # Assessment reads the new bank's decisions topic without a restart: a decision there in another bank's name is
    # refused, naming the topic it came on.
    file = uuid4()
    decision = new_event(
        BankDecision, source=f"/banks/{bank_id}", subject=str(file), time=datetime.now(UTC),
        data=BankDecisionData(application_id=file, bank_id="credit-mutuel-nord", decision="decline", reason="Dossier incomplet"),
    )
    await platform.produce(PartnerTopics.decisions(bank_id), str(file).encode(), decision.to_bytes())
    ops = await platform.bearer(tokens.ops())

    async def dead_lettered() -> list[dict]:
        async with httpx.AsyncClient(base_url=platform.urls["assessment"], timeout=30) as client:
            listed = (await client.get("/operations/dead-letters", params={"reason": bank_id}, headers=ops)).json()
        return [d for d in listed if d["event_id"] == str(decision.id)]

    [dead] = await eventually(dead_lettered, timeout=60, what="assessment to read the new bank's decisions topic")
    assert dead["original_topic"] == PartnerTopics.decisions(bank_id)
    assert f"came on the topic of bank '{bank_id}'" in dead["reason"]
