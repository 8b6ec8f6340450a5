"""Create the platform's topics with an explicit partition count (auto-creation would pick the default), and the three
topics of each partner bank of the directory's seed (a bank added later gets its own from notifications)."""

from __future__ import annotations

import json

from deploy.local.directory_seed import SEED
from shared.events import Topics
from shared.topic_admin import PARTNER_PARTITIONS, ensure_topics as create_missing, partner_topics

DEFAULT_PARTITIONS = 6
# The directory's snapshots: compaction keeps the newest of each entity for ever, so a consumer that
# starts from the beginning (a new service, a copy rebuilt) learns the whole directory.
TOPIC_CONFIGS = {Topics.DIRECTORY: {"cleanup.policy": "compact"}}


def seed_banks() -> list[str]:
    """The partner banks of the directory's seed (`deploy/directory/seed.json`)."""
    return sorted(json.loads(SEED.read_text(encoding="utf-8"))["banks"])


async def ensure_topics(bootstrap: str, partitions: int = DEFAULT_PARTITIONS) -> None:
    """Create every platform topic, and every seeded bank's, that does not exist yet."""
    await create_missing(bootstrap, Topics.all(), partitions=partitions, configs=TOPIC_CONFIGS)
    await create_missing(bootstrap, partner_topics(seed_banks()), partitions=PARTNER_PARTITIONS)
