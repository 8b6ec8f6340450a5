"""Create the platform's topics with an explicit partition count (auto-creation would pick the default)."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import PartnerTopics, Topics
from shared.kafka_auth import KafkaLogin, aiokafka_options

DEFAULT_PARTITIONS = 6
# A bank's own topics carry only its files: fewer partitions.
PARTNER_PARTITIONS = 3
# The directory's snapshots: compaction keeps the newest of each entity for ever, so a consumer that
# starts from the beginning (a new service, a copy rebuilt) learns the whole directory.
TOPIC_CONFIGS = {Topics.DIRECTORY: {"cleanup.policy": "compact"}}


async def _create_missing(bootstrap: str, login: KafkaLogin | None, topics: Iterable[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **aiokafka_options(login))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=partitions, replication_factor=1, topic_configs=TOPIC_CONFIGS.get(t, {}))
            for t in dict.fromkeys(topics)
            if t not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another starter won the race: the topic is there, which is all we need
    finally:
        await admin.close()


async def ensure_topics(bootstrap: str, login: KafkaLogin | None = None, partitions: int = DEFAULT_PARTITIONS) -> None:
    """Create every platform topic that does not exist yet (as `login`, a principal allowed to: the admin)."""
    await _create_missing(bootstrap, login, Topics.all(), partitions)


async def ensure_partner_topics(
    bootstrap: str, login: KafkaLogin | None, banks: Iterable[str], partitions: int = PARTNER_PARTITIONS
) -> None:
    """Create each bank's feed, decisions and payments topics that do not exist yet."""
    await _create_missing(bootstrap, login, [t for bank in banks for t in PartnerTopics.of_bank(bank)], partitions)
