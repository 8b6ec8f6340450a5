"""Refreshes the operations gauges (`shared.metrics.OperationsMetrics`) in the background.

Every `interval` seconds: the end offsets of the platform's topics (one ListOffsets request through
a group-less consumer), the offsets each of this service's consumer groups committed (one
OffsetFetch per group through an admin client), hence each group's lag per partition; the age of the
outbox's oldest row (one index read); and, when asked, Postgres' own figures (connections by state,
the database's size). A failed pass keeps the last values and is retried at the next one; a scrape of
`/metrics` never waits on Kafka or Postgres.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import Topics
from shared.kafka_auth import KafkaLogin, aiokafka_options
from shared.metrics import OperationsMetrics

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 15.0


class OperationsGauges:
    """The background task keeping a service's operations gauges current."""

    def __init__(
        self,
        metrics: OperationsMetrics,
        *,
        bootstrap_servers: str,
        login: KafkaLogin | None = None,
        client_id: str,
        groups: Mapping[str, tuple[str, ...]],
        pool: asyncpg.Pool,
        postgres_statistics: bool = False,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._metrics = metrics
        self._bootstrap = bootstrap_servers
        self._login = login
        self._client_id = f"{client_id}-metrics"
        self._groups = dict(groups)
        self._pool = pool
        self._postgres_statistics = postgres_statistics
        self._interval = interval
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        """Refresh the gauges now and then every `interval` seconds."""
        self._task = asyncio.create_task(self._run(), name=f"{self._client_id}-refresh")

    async def stop(self) -> None:
        """Stop refreshing and close the Kafka clients."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._close_kafka()

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval)

    async def refresh(self) -> None:
        """One pass; a failure of one part (Kafka or Postgres) leaves the other part's figures updated."""
        for part in (self._refresh_database, self._refresh_kafka):
            try:
                await part()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Once per outage at warning level; a broker that stays away must not flood the log.
                log.log(logging.DEBUG if self._failing else logging.WARNING, "metrics refresh failed: %r", exc)
                self._failing = True
                if part == self._refresh_kafka:
                    await self._close_kafka()
            else:
                self._failing = False

    async def _refresh_database(self) -> None:
        async with self._pool.acquire() as conn:
            oldest = await conn.fetchval(
                "select extract(epoch from now() - created_at)::float8 from outbox order by id limit 1"
            )
            self._metrics.outbox_oldest_age.set(max(0.0, oldest or 0.0))
            if self._postgres_statistics:
                rows = await conn.fetch(
                    "select coalesce(state, 'unknown') as state, count(*) as n from pg_stat_activity"
                    " where datname = current_database() group by 1"
                )
                for state in ("active", "idle", "idle in transaction"):
                    self._metrics.postgres_connections.labels(state).set(0)
                for row in rows:
                    self._metrics.postgres_connections.labels(row["state"]).set(row["n"])
                self._metrics.postgres_database_size.set(
                    await conn.fetchval("select pg_database_size(current_database())")
                )

    async def _kafka(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._offsets is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap, client_id=self._client_id, request_timeout_ms=10_000,
                **aiokafka_options(self._login),
            )
            offsets = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, client_id=self._client_id, group_id=None,
                enable_auto_commit=False, request_timeout_ms=10_000, **aiokafka_options(self._login),
            )
            self._admin, self._offsets = admin, offsets
            await admin.start()
            await offsets.start()
        return self._admin, self._offsets

    async def _close_kafka(self) -> None:
        admin, offsets = self._admin, self._offsets
        self._admin = self._offsets = None
        for client in (offsets, admin):
            if client is not None:
                try:
                    await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())
                except Exception:  # closing a client that never connected
                    log.debug("closing a metrics Kafka client failed", exc_info=True)

    async def _refresh_kafka(self) -> None:
        admin, offsets = await self._kafka()
        followed = [topic for topics in self._groups.values() for topic in topics]
        # Every topic's metadata, filtered here: naming topics in the request could auto-create them.
        described = await admin.describe_topics(None)
        partitions = [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            if (topic["topic"] in Topics.all() or _matches(followed, topic["topic"])) and not topic.get("error_code")
            for partition in topic["partitions"]
        ]
        ends: dict[TopicPartition, int] = await offsets.end_offsets(partitions) if partitions else {}
        for tp, end in ends.items():
            self._metrics.topic_end_offset.labels(tp.topic, str(tp.partition)).set(end)
        self._metrics.dead_letter_topic_size.set(sum(end for tp, end in ends.items() if tp.topic == Topics.DEAD_LETTER))
        for group, topics in self._groups.items():
            committed = await admin.list_consumer_group_offsets(group)
            for tp, end in ends.items():
                if not _matches(topics, tp.topic):
                    continue
                done = committed.get(tp)
                position = done.offset if done is not None and done.offset >= 0 else 0
                self._metrics.consumer_lag.labels(group, tp.topic, str(tp.partition)).set(max(0, end - position))


def _matches(names: Iterable[str], topic: str) -> bool:
    """Whether `topic` is one of `names`, a group's topics or the pattern of its topics (a regular expression)."""
    return any(name == topic or ("\\" in name and re.fullmatch(name, topic)) for name in names)
