"""`make demo`: one application through the whole running platform, with its event timeline and trace."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry import propagate

from deploy.local.kafka import local_client
from deploy.local.services import tracing_env
from deploy.local.journey import Credentials, Identity, JourneyError, sample_application, walk
from shared.events import Topics
from shared.events.envelope import EnvelopeHeader
from shared.telemetry import create_tracer_provider


async def read_timeline(bootstrap: str, ids: set[str]) -> list[tuple[str, str, str, str]]:
    """Every event on the platform topics whose subject or payload names one of `ids`, in time order."""
    consumer = AIOKafkaConsumer(**local_client(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p)
            for t in (Topics.APPLICATIONS, Topics.LOANS, Topics.ALERTS)
            for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[tuple[str, str, str, str]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    text = record.value.decode(errors="replace")
                    if any(i in text for i in ids):
                        header = EnvelopeHeader.model_validate_json(record.value)
                        found.append((header.time.isoformat(timespec="milliseconds"), header.source, header.type, header.subject))
        return sorted(found)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # the topic may be new to this client
    return consumer.partitions_for_topic(topic) or set()


async def _demo(manifest: dict[str, Any], today: date, identity: Identity, run_dir: Path) -> int:
    urls = {name: info["url"] for name, info in manifest["services"].items()}
    provider = create_tracer_provider("demo-client", environ=tracing_env(manifest.get("zipkin")))
    tracer = provider.get_tracer("demo")
    with tracer.start_as_current_span("demo: one application, submission to counsellor alert") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        headers: dict[str, str] = {}
        propagate.inject(headers)  # every request joins this trace
        async with httpx.AsyncClient(timeout=30) as client:
            try:
                credentials = await Credentials.sign_in(identity)
                journey = await walk(
                    client, urls, today=today, credentials=credentials, application=sample_application(), headers=headers
                )
            except JourneyError as exc:
                print(f"demo failed: {exc}")
                return 1
    provider.shutdown()
    print(f"application {journey.application_id}\nloan        {journey.loan_id}\nalert       {journey.alert_id}\n")
    print("steps (seconds since submission):")
    for step, at in journey.steps.items():
        print(f"  {at:7.3f}  {step}")
    await asyncio.sleep(1.0)  # the alert's own event leaves the outbox just after the alert is readable
    timeline = await read_timeline(manifest["kafka"], {journey.application_id, journey.loan_id, journey.alert_id})
    print("\nevent timeline (from Kafka):")
    for when, source, event_type, subject in timeline:
        print(f"  {when}  {source:<26} {event_type:<42} {subject}")
    (run_dir / "last-trace-id").write_text(trace_id)
    print(f"\ntrace id {trace_id}\nsee it in Zipkin: {manifest['zipkin']}/zipkin/traces/{trace_id}")
    print(f"or as a tree: make trace   (its logs: make logs TRACE={trace_id})")
    return 0


def run_demo(manifest: dict[str, Any], *, today: date, identity: Identity, run_dir: Path) -> int:
    """Run the demo against the platform described by `manifest`; exit status."""
    if not manifest:
        print("the platform is not running: start it with `make run`")
        return 1
    return asyncio.run(_demo(manifest, today, identity, run_dir))
