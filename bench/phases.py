"""Where each consumer group's transactions spent their time during a benchmark, from the services' own metrics.

Every service exposes, per consumer group, the time of each phase of its committed transactions
(`microcredit_consumer_transaction_phase_seconds{group,phase}`) and the time from a record's Kafka timestamp
to the start of its fetch (`microcredit_consumer_fetch_delay_seconds{group}`), see `shared/metrics.py`. Read
from each replica's `/metrics` before and after the journeys, the differences of their sums and counts give
the exact mean of each phase over the journeys (no histogram bucket is involved).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.services import manifest_replicas

PHASES = "microcredit_consumer_transaction_phase_seconds"
FETCH_DELAY = "microcredit_consumer_fetch_delay_seconds"
FROM_KAFKA = "from Kafka"  # the fetch delay, beside the phases

# (group, phase or FROM_KAFKA) -> (sum of seconds, count), summed over the replicas.
Totals = dict[tuple[str, str], tuple[float, float]]


def totals(expositions: Iterable[str]) -> Totals:
    """The sums and counts of the two histograms in Prometheus text expositions (one per replica), added up."""
    found: dict[tuple[str, str], list[float]] = {}
    for text in expositions:
        for family in text_string_to_metric_families(text):
            if family.name not in (PHASES, FETCH_DELAY):
                continue
            for sample in family.samples:
                kind = sample.name.removeprefix(family.name)
                if kind not in ("_sum", "_count"):
                    continue
                key = (sample.labels["group"], sample.labels.get("phase", FROM_KAFKA))
                pair = found.setdefault(key, [0.0, 0.0])
                pair[kind == "_count"] += sample.value
    return {key: (pair[0], pair[1]) for key, pair in found.items()}


async def scrape(urls: Iterable[str]) -> Totals:
    """The two histograms' sums and counts of every replica at `urls`, added up (the web workspace exposes none)."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        answers = await asyncio.gather(*(client.get(f"{url}/metrics") for url in urls))
    exposing = [answer for answer in answers if answer.status_code != 404]
    for answer in exposing:
        answer.raise_for_status()
    return totals(answer.text for answer in exposing)


def replica_urls(manifest: Mapping[str, Any]) -> list[str]:
    """Each replica's own address (not HAProxy's): each exposes its own metrics."""
    return [str(r["url"]) for replicas in manifest_replicas(manifest).values() for r in replicas]


def phase_figures(before: Totals, after: Totals) -> dict[str, dict[str, Any]]:
    """Per group that committed transactions in between: their count, and the mean of each phase and of the time from
    Kafka, in milliseconds."""
    figures: dict[str, dict[str, Any]] = {}
    for (group, phase), (total, count) in sorted(after.items()):
        total_before, count_before = before.get((group, phase), (0.0, 0.0))
        seconds, n = total - total_before, count - count_before
        if n <= 0:
            continue
        row = figures.setdefault(group, {})
        if phase == FROM_KAFKA:
            row["records"] = int(n)
            row["from_kafka_ms"] = round(seconds / n * 1000, 2)
        else:
            row["transactions"] = int(n)
            row[f"{phase}_ms"] = round(seconds / n * 1000, 2)
    return {group: row for group, row in figures.items() if "transactions" in row}
