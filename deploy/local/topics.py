"""Create the platform's topics with an explicit partition count (auto-creation would pick the default)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import Topics

DEFAULT_PARTITIONS = 6
# The directory's snapshots: compaction keeps the newest of each entity for ever, so a consumer that
# starts from the beginning (a new service, a copy rebuilt) learns the whole directory.
TOPIC_CONFIGS = {Topics.DIRECTORY: {"cleanup.policy": "compact"}}


async def ensure_topics(bootstrap: str, partitions: int = DEFAULT_PARTITIONS) -> None:
    """Create every platform topic that does not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=partitions, replication_factor=1, topic_configs=TOPIC_CONFIGS.get(t, {}))
            for t in Topics.all()
            if t not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another starter won the race: the topic is there, which is all we need
    finally:
        await admin.close()
