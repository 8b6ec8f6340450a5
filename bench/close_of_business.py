"""Close of business of a national portfolio on real Postgres and Kafka: `python -m bench.close_of_business`.

Generates 1,000,000 active loans (schedules from a few hundred templates computed with shared.loanmath
and expanded in SQL), then runs the close of business for one date with the service's own code, its
outbox relay publishing every event to Kafka, and prints how long the state changes and the publishing
took, the events by type and the peak memory of this process, the broker and Postgres, beside the raw
ceilings measured in the same run (`bench.cob_ceilings`): COPY of as many outbox rows into Postgres, and
as many records of the same size produced to Kafka.

The portfolio is loaded as a bank migrating its book would hand it over: repayments up to date, past
incidents settled, and the current arrears not yet classified (no instalment marked missed, every loan
`current`): the run classifies all of them at once, the heaviest day a close of business can have.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from deploy.local.kafka import local_client, local_login
from bench.cob_ceilings import copy_seconds, produce_seconds, sample_event
from bench.portfolio import checkpoint, database_dsn, generate, kept_portfolio, reset
from bench.portfolio_sql import SCHEMA
from bench.processes import status_kb
from deploy.local import REPO_ROOT
from deploy.local.infra import infra_status, start_infra
from deploy.local.topics import ensure_topics
from services.servicing import domain, usecases
from services.servicing.app import DEFINITION as SERVICING
from shared.broker import create_broker
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.events import DelinquencyStageChanged, LoanWrittenOff, PaymentMissed, Topics
from shared.metrics import PlumbingMetrics
from shared.outbox_relay import OutboxRelay

DEFAULT_STATE_DIR = REPO_ROOT / ".local" / "bench"


def mib(kb: int | None) -> str:
    """A kB figure in MiB for the report ("n/a" when unknown)."""
    return "n/a" if kb is None else f"{kb / 1024:,.0f} MiB"


async def loans_topic_end(bootstrap: str, state_dir: Path) -> int:
    """The sum of the end offsets of the loans topic: how many records it ever received."""
    consumer = AIOKafkaConsumer(**local_client(bootstrap, state_dir), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - the topic's partitions, at once
        partitions = [TopicPartition(Topics.LOANS, p) for p in consumer.partitions_for_topic(Topics.LOANS) or ()]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def close_of_business(
    pool: asyncpg.Pool, bootstrap: str, business_date: date, policy: domain.CobPolicy, batch_size: int, traced: bool,
    relay_after: bool, state_dir: Path,
) -> dict[str, Any]:
    """Run the close of business with the outbox relay publishing to Kafka; time both until the outbox is empty.

    The relay runs during the chunks as in the service, or (`relay_after`) starts once they are all
    committed, which measures the relay's own throughput on the whole backlog.
    """
    provider = TracerProvider()  # spans are made and propagated as in the service, exported nowhere
    registry = CollectorRegistry()
    broker = create_broker(bootstrap, client_id="bench-servicing", registry=registry, login=local_login(state_dir))
    await broker.start()
    relay = OutboxRelay(
        pool, broker, schema=SCHEMA, batch_size=batch_size, poll_seconds=0.2, metrics=PlumbingMetrics.create(registry),
        tracer_provider=provider,
    )
    before = await loans_topic_end(bootstrap, state_dir)
    if not relay_after:
        relay.start()
    try:
        started = time.monotonic()
        if traced:  # as the HTTP request does: every event carries the request's trace context
            with provider.get_tracer("bench").start_as_current_span("POST /close-of-business"):
                result = await usecases.close_business_day(pool, business_date, policy=policy, now=datetime.now(UTC))
        else:
            result = await usecases.close_business_day(pool, business_date, policy=policy, now=datetime.now(UTC))
        state_changed = time.monotonic()
        if relay_after:
            relay.start()
        async with pool.acquire() as conn:
            backlog = await conn.fetchval("select count(*) from outbox")
            while await conn.fetchval("select exists (select 1 from outbox)"):
                await asyncio.sleep(0.02)
        published = time.monotonic()
    finally:
        await relay.stop()
        await broker.stop()
    on_kafka = await loans_topic_end(bootstrap, state_dir) - before
    return {
        "result": result,
        "state_seconds": state_changed - started,
        "publish_tail_seconds": published - state_changed,
        "wall_seconds": published - started,
        "backlog_at_state_end": backlog,
        "on_kafka": on_kafka,
        "relay_after": relay_after,
    }


async def postgres_memory(pool: asyncpg.Pool, postmaster: int | None) -> tuple[int | None, int | None]:
    """VmHWM of the postmaster and of the largest backend of the benchmark's database (kB)."""
    pids = [r["pid"] for r in await pool.fetch("select pid from pg_stat_activity where datname = current_database()")]
    backends = [kb for kb in (status_kb(p) for p in pids) if kb is not None]
    return status_kb(postmaster), max(backends, default=None)


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Provision, generate (or reuse) the portfolio, run the close of business, gather the figures."""
    kafka_pid = postgres_pid = None
    if args.kafka and args.dsn:
        bootstrap, server_dsn = args.kafka, args.dsn
    else:
        bootstrap, server_dsn = start_infra(args.state_dir)
        kafka, postgres = infra_status(args.state_dir)
        kafka_pid, postgres_pid = kafka.pid, postgres.pid
    # The logins are those of the broker's own state directory (the benchmark's, not the platform's).
    await ensure_topics(bootstrap, local_login(args.state_dir))
    business_date: date = args.business_date or date.today()
    dsn = await database_dsn(server_dsn, fresh=False)
    kept = await kept_portfolio(dsn, args.loans) if args.keep else None
    if kept is None:
        dsn = await database_dsn(server_dsn, fresh=True)
    pool = await create_pool(dsn, SCHEMA, max_size=6)
    try:
        await migrate(pool, SCHEMA, [PLUMBING_MIGRATIONS, SERVICING.migrations])
        figures: dict[str, Any] = {"loans": args.loans, "bootstrap": bootstrap}
        started = time.monotonic()
        if kept is None:
            print(f"generating {args.loans:,} loans as of {business_date} …", file=sys.stderr, flush=True)
            figures["portfolio"] = await generate(pool, args.loans, business_date, args.seed)
        else:
            business_date = args.business_date or kept["business_date"]
            print(f"reusing the portfolio of {args.loans:,} loans; resetting it …", file=sys.stderr, flush=True)
            await reset(pool)
            figures["portfolio"] = {"kept": True}
        figures["generation_seconds"] = time.monotonic() - started
        await checkpoint(pool)
    finally:
        await pool.close()
    # A pool of its own for the run, so Postgres's figures are the run's, not the generation's.
    pool = await create_pool(dsn, SCHEMA, max_size=6)
    try:
        figures["business_date"] = business_date
        policy = domain.CobPolicy(grace_days=args.grace_days, write_off_days=args.write_off_days, chunk_size=args.chunk_size)
        print(f"close of business {business_date} (chunks of {policy.chunk_size:,} loans) …", file=sys.stderr, flush=True)
        figures["run"] = await close_of_business(
            pool, bootstrap, business_date, policy, args.batch_size, not args.no_trace, args.relay_after, args.state_dir
        )
        figures["memory_kb"] = {
            "benchmark": status_kb(os.getpid()),
            "kafka": status_kb(kafka_pid),
            **dict(zip(("postmaster", "postgres_backend"), await postgres_memory(pool, postgres_pid), strict=True)),
        }
        result = figures["run"]["result"]
        events = result.missed_instalments + result.stage_changes + result.written_off
        payload = sample_event()
        print(f"ceilings: {events:,} rows into Postgres, {events:,} records to Kafka …", file=sys.stderr, flush=True)
        figures["ceiling"] = {
            "events": events, "payload_bytes": len(payload),
            "copy_seconds": await copy_seconds(pool, events, payload),
            "produce_seconds": await produce_seconds(bootstrap, events, payload, args.state_dir),
        }
    finally:
        await pool.close()
    return figures


def render(f: dict[str, Any], args: argparse.Namespace) -> str:
    """The human-readable report."""
    run, result = f["run"], f["run"]["result"]
    events = {
        PaymentMissed.event_type(): result.missed_instalments,
        DelinquencyStageChanged.event_type(): result.stage_changes,
        LoanWrittenOff.event_type(): result.written_off,
    }
    total = sum(events.values())
    p = f["portfolio"]
    out = [f"close-of-business benchmark — {f['loans']:,} active loans, business date {f['business_date']}"]
    if p.get("kept"):
        out.append(f"portfolio             reused (--keep), reset in {f['generation_seconds']:.1f} s")
    else:
        out += [
            f"portfolio generation  {f['generation_seconds']:.1f} s ({p['load_seconds']:.1f} s loading rows, the rest indexes and vacuum)",
            f"  {p['instalments']:,} instalments from {p['templates']} schedule templates ({p['template_lines']:,} lines), "
            f"average loan {p['average_euros']:,.0f} €, database {p['size']}",
            f"  {p['in_arrears']:,} loans in arrears ({p['in_arrears'] / f['loans']:.1%}), "
            f"{p['ever_missed']:,} borrowers who ever missed a payment ({p['ever_missed'] / f['loans']:.1%}), "
            f"{p['settled_misses']:,} settled misses on record",
        ]
    out += [
        f"settings              grace {args.grace_days} days, write-off at {args.write_off_days} days past due, "
        f"chunks of {args.chunk_size:,} loans, relay batches of {args.batch_size:,}, tracing {'off' if args.no_trace else 'on'}",
        f"close of business     {run['wall_seconds']:.2f} s wall, events published included",
        f"  state changes       {run['state_seconds']:.2f} s ({result.chunks} chunks, {result.loans_visited:,} loans visited; "
        f"{run['backlog_at_state_end']:,} events still in the outbox when they ended)",
        f"  publishing          {run['publish_tail_seconds']:.2f} s after the last chunk "
        + (f"(the relay alone: {total / run['publish_tail_seconds']:,.0f} events/s)" if run["relay_after"]
           else "(the relay publishes while the chunks commit)"),
        f"  loans/s             {f['loans'] / run['wall_seconds']:,.0f} (portfolio ÷ wall)",
        f"  events/s            {total / run['wall_seconds']:,.0f} (events ÷ wall)",
        f"events                {total:,} written, {run['on_kafka']:,} acknowledged by Kafka on {Topics.LOANS}",
    ]
    out += [f"  {name:<44} {count:>9,}" for name, count in events.items()]
    c = f["ceiling"]
    floor = max(c["copy_seconds"], c["produce_seconds"])
    out += [
        f"raw ceilings          measured in this run, for {c['events']:,} events of {c['payload_bytes']} bytes:",
        f"  Postgres COPY       {c['copy_seconds']:.2f} s ({c['events'] / c['copy_seconds']:,.0f} rows/s into a copy of the outbox, one commit)",
        f"  Kafka produce       {c['produce_seconds']:.2f} s ({c['events'] / c['produce_seconds']:,.0f} records/s, batch API, acks=all)",
        f"  the run             {run['wall_seconds'] / floor:.1f} × the slower of the two",
    ]
    m = f["memory_kb"]
    out += [
        "peak memory (VmHWM)",
        f"  benchmark process   {mib(m['benchmark'])}",
        f"  Kafka broker        {mib(m['kafka'])}",
        f"  Postgres            postmaster {mib(m['postmaster'])}, largest backend {mib(m['postgres_backend'])} "
        "(a backend's RSS counts the shared buffers it touched)",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.close_of_business", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=1_000_000, help="active loans in the portfolio (default 1,000,000)")
    parser.add_argument("--business-date", type=date.fromisoformat, help="YYYY-MM-DD (default: today, or the kept portfolio's)")
    parser.add_argument("--keep", action="store_true", help="reuse the portfolio generated by an earlier run (reset to before it)")
    parser.add_argument("--kafka", help="bootstrap address of a running broker (with --dsn; default: provision locally)")
    parser.add_argument("--dsn", help="DSN of a running Postgres server, its `postgres` database (with --kafka)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=f"local provisioning (default {DEFAULT_STATE_DIR})")
    parser.add_argument("--chunk-size", type=int, default=1000, help="loans per close-of-business transaction")
    parser.add_argument("--batch-size", type=int, default=5000, help="events per outbox relay batch")
    parser.add_argument("--grace-days", type=int, default=0)
    parser.add_argument("--write-off-days", type=int, default=180)
    parser.add_argument("--no-trace", action="store_true", help="run outside any trace (events carry no trace context)")
    parser.add_argument("--relay-after", action="store_true", help="start the relay after the last chunk (its own throughput)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if bool(args.kafka) != bool(args.dsn):
        parser.error("--kafka and --dsn go together")
    figures = asyncio.run(benchmark(args))
    print(render(figures, args))
    if args.json:
        result = figures["run"]["result"]
        figures["run"]["result"] = result.model_dump(mode="json")
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
