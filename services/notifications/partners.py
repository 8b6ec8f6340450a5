"""What a partner bank hears of its own files and loans: its Kafka feed and its webhooks, both cut to the allow-list
(`shared.events.partner`), and the topics of a bank the directory adds."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from pydantic import BaseModel, Field

from services.notifications.context import Notifications
from services.notifications.settings import NotificationsSettings
from services.notifications.webhooks import usecases as webhooks
from shared.events import Envelope, PartnerTopics, for_partner
from shared.outbox import add_to_outbox
from shared.kafka_auth import aiokafka_options
from shared.topic_admin import PARTNER_PARTITIONS, ensure_topics, partner_topics

log = logging.getLogger(__name__)


async def share(conn: asyncpg.Connection, event: Envelope[Any], settings: NotificationsSettings, now: datetime) -> None:
    """The event on its bank's feed (keyed like the stream it came from, through the outbox) and to the bank's webhooks.

    In the event's transaction: applied once (the inbox), published once in effect and in order per key (the outbox).
    An event whose bank is not known yet is not shared (the routing precedes everything a bank hears of a file).
    """
    bank_id = await webhooks.bank_of(conn, event)
    if bank_id is None:
        log.info("%s %s: no bank known for it, not shared", event.type, event.id)
        return
    try:
        feed = PartnerTopics.feed(bank_id)
    except ValueError:
        log.error("%s %s: bank id %r cannot name a topic, no feed for it", event.type, event.id, bank_id)
    else:
        shared = for_partner(event)
        assert shared is not None  # only the allow-listed types are handed here
        await add_to_outbox(conn, shared, topic=feed)
    await webhooks.fan_out(conn, event, bank_id, now)


async def keep_bank(conn: asyncpg.Connection, bank_id: str) -> None:
    """A bank the directory told of: its topics are to be made sure of (by the `partner_topics` timer)."""
    await conn.execute("insert into partner_banks (bank_id) values ($1) on conflict do nothing", bank_id)


class PartnerTopicsRun(BaseModel):
    """What the `partner_topics` timer did."""

    partner_banks_opened: int = Field(0, description="Banks whose feed, decisions and payments topics were made sure of.")
    partner_banks_waiting: int = Field(0, description="Banks whose topics could not be made sure of (broker out of reach).")


async def open_bank_topics(ctx: Notifications) -> PartnerTopicsRun:
    """Create the three topics of each bank not done yet (a topic already there is kept as it is), then mark the bank."""
    settings = ctx.settings
    run = PartnerTopicsRun()
    waiting = await ctx.pool.fetch("select bank_id from partner_banks where topics_ready_at is null order by bank_id")
    for bank_id in (row["bank_id"] for row in waiting):
        try:
            topics = partner_topics([bank_id])
        except ValueError:
            log.error("bank id %r cannot name a topic: no partner topics for it", bank_id)
            continue
        try:
            created = await ensure_topics(
                settings.kafka_bootstrap_servers, topics, partitions=PARTNER_PARTITIONS,
                replication_factor=settings.partner_topic_replication_factor, **aiokafka_options(settings.kafka_login),
            )
        except (KafkaError, OSError) as unreachable:
            # The broker away: every bank waits for the next run, and the other timers run all the same.
            log.warning("partner topics of %s not made sure of (next run tries again): %r", bank_id, unreachable)
            run.partner_banks_waiting += 1
            continue
        if created:
            log.info("partner topics of %s created: %s", bank_id, ", ".join(created))
        await ctx.pool.execute("update partner_banks set topics_ready_at = $2 where bank_id = $1", bank_id, ctx.clock.now())
        run.partner_banks_opened += 1
    return run
