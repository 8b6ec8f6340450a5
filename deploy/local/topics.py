"""Create the platform's topics with an explicit partition count (auto-creation would pick the default), and the three
topics of each partner bank (those of the directory's seed at start; a bank added later gets its own from notifications)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.events import Topics
from shared.kafka_auth import KafkaLogin, aiokafka_options
from shared.topic_admin import PARTNER_PARTITIONS, ensure_topics as create_missing, partner_topics

DEFAULT_PARTITIONS = 6
# The directory's snapshots: compaction keeps the newest of each entity for ever, so a consumer that
# starts from the beginning (a new service, a copy rebuilt) learns the whole directory.
TOPIC_CONFIGS = {Topics.DIRECTORY: {"cleanup.policy": "compact"}}


async def ensure_topics(bootstrap: str, login: KafkaLogin | None = None, partitions: int = DEFAULT_PARTITIONS) -> None:
    """Create every platform topic that does not exist yet (as `login`, a principal allowed to: the admin)."""
    await create_missing(bootstrap, Topics.all(), partitions=partitions, configs=TOPIC_CONFIGS, **aiokafka_options(login))


async def ensure_partner_topics(
    bootstrap: str, login: KafkaLogin | None, banks: Iterable[str], partitions: int = PARTNER_PARTITIONS
) -> None:
    """Create each bank's feed, decisions and payments topics that do not exist yet."""
    await create_missing(bootstrap, partner_topics(banks), partitions=partitions, **aiokafka_options(login))
