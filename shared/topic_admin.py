"""Creating topics the platform needs, idempotently: the platform's streams at start, a partner bank's three on arrival."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import PartnerTopics

log = logging.getLogger(__name__)

# A bank's volume is small (a few thousand files a year): three partitions let it read in parallel all the same.
PARTNER_PARTITIONS = 3


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    **client: Any,
) -> list[str]:
    """Create each of `topics` that does not exist yet; return the ones created (a second call creates none).

    `client`: more settings of the admin client (its security settings on a broker that asks for them).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=partitions, replication_factor=replication_factor, topic_configs=dict((configs or {}).get(t, {})))
            for t in dict.fromkeys(topics)
            if t not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another starter won the race: the topic is there, which is all we need
            log.info("created topics %s", ", ".join(t.name for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()


def partner_topics(bank_ids: Iterable[str]) -> list[str]:
    """The feed, decisions and payments topics of each bank."""
    return [topic for bank_id in bank_ids for topic in PartnerTopics.of_bank(bank_id)]
