"""Close of business of a national portfolio on real Postgres and Kafka: `python -m bench.close_of_business`.

Generates 1,000,000 active loans (schedules from a few hundred templates computed with shared.loanmath
and expanded in SQL), then runs the close of business for one date with the service's own code, its
outbox relay publishing every event to Kafka, and prints how long the state changes and the publishing
took, the events by type and the peak memory of this process, the broker and Postgres.

The portfolio is loaded as a bank migrating its book would hand it over: repayments up to date, past
incidents settled, and the current arrears not yet classified (no instalment marked missed, every loan
`current`): the run classifies all of them at once, the heaviest day a close of business can have.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from deploy.local.infra import infra_status, start_infra
from deploy.local.kafka import REPO_ROOT
from deploy.local.topics import ensure_topics
from services.servicing import domain, usecases
from services.servicing.app import DEFINITION as SERVICING
from shared.broker import create_broker
from shared.db import PLUMBING_MIGRATIONS, create_pool, migrate
from shared.events import DelinquencyStageChanged, LoanWrittenOff, PaymentMissed, Topics
from shared.loanmath import amortisation_schedule
from shared.metrics import PlumbingMetrics
from shared.outbox import OutboxRelay

DEFAULT_STATE_DIR = REPO_ROOT / ".local" / "bench"
DATABASE = "cob_bench"
SCHEMA = SERVICING.schema
# Euros, with weights: most personal microcredits are 1,000–4,000 € (average about 2,500 €).
AMOUNTS = {300: 3, 500: 5, 800: 6, 1000: 9, 1200: 7, 1500: 11, 1800: 8, 2000: 12, 2500: 11, 3000: 11,
           3500: 5, 4000: 5, 5000: 4, 6000: 2, 7000: 1.5, 8000: 1}
RATES = ("0.015", "0.02", "0.025", "0.03", "0.035", "0.04")
DURATIONS = {6: 3, 12: 10, 18: 5, 24: 17, 36: 30, 48: 15, 60: 12, 72: 5, 84: 3}
PICK_SLOTS = 10_000
ASSOCIATIONS = ("secours-catholique", "restos-du-coeur", "croix-rouge", "adie", "udaf", "ccas", "cresus",
                "point-conseil-budget", "emmaus", "france-active")
REGIONS = ("hauts-de-france", "ile-de-france", "grand-est", "normandie", "bretagne", "pays-de-la-loire",
           "centre-val-de-loire", "bourgogne-franche-comte", "nouvelle-aquitaine", "occitanie",
           "auvergne-rhone-alpes", "provence-alpes-cote-d-azur", "corse")
BANKS = ("la-banque-postale", "credit-municipal", "caisse-d-epargne", "credit-cooperatif", "credit-mutuel-nord",
         "credit-agricole", "bnp-paribas", "societe-generale")


def max_duration(amount_euros: int) -> int:
    """Small loans are short: the longest term a bank grants for an amount."""
    return 24 if amount_euros <= 1000 else 48 if amount_euros <= 2000 else 72 if amount_euros <= 4000 else 84


def templates() -> list[tuple[int, int, Decimal, int]]:
    """(template, amount cents, rate, months) for every plausible combination."""
    combos = [(a, Decimal(r), d) for a in AMOUNTS for r in RATES for d in DURATIONS if d <= max_duration(a)]
    return [(i, a * 100, r, d) for i, (a, r, d) in enumerate(combos)]


def picks(catalogue: Sequence[tuple[int, int, Decimal, int]], seed: int) -> list[tuple[int, int]]:
    """A weighted table of templates: a loan draws one slot uniformly."""
    rng = random.Random(seed)
    weights = [AMOUNTS[a // 100] * DURATIONS[d] for _, a, _, d in catalogue]
    return list(enumerate(rng.choices([t for t, *_ in catalogue], weights=weights, k=PICK_SLOTS)))


# --- SQL of the generator ------------------------------------------------------------------------

STAGING = """
drop schema if exists bench cascade;
create schema bench;
create unlogged table bench.meta (loans integer, business_date date, seed integer, generated_at timestamptz);
create unlogged table bench.templates (template integer primary key, amount_cents integer, annual_rate numeric(9, 6), duration_months integer);
create unlogged table bench.template_lines (
    template integer, number integer, principal_cents integer, interest_cents integer, amount_cents integer,
    remaining_principal_cents integer, primary key (template, number));
create unlogged table bench.picks (slot integer primary key, template integer);
"""

# Every random choice of a loan, drawn once; rows in loan-id order so the loads append to the primary keys.
# {loans} and {business_date} are filled in (a CREATE TABLE AS takes no parameters). Arrears: 3 % one instalment behind, 1 % two, 0.5 % three, 0.4 % four to six,
# 0.12 % seven to ten; 30 % of them paid part of the oldest; 42 % of borrowers missed (and settled) 1–3 before.
LOANS_DRAWN = f"""
create unlogged table bench.loans as
with draws as (
    select g, floor(random() * {PICK_SLOTS})::int as slot, 1 + floor(random() * 28)::int as day,
           random() as r_age, random() as r_late, random() as r_k, random() as r_part, random() as r_frac,
           random() as r_hist, random() as r_h1, random() as r_h2, random() as r_h3, random() as r_h,
           floor(random() * {len(ASSOCIATIONS)})::int as association, floor(random() * {len(REGIONS)})::int as region,
           floor(random() * 400)::int as counsellor, floor(random() * {len(BANKS)})::int as bank, random() as r_payee
      from generate_series(1, {{loans}}) g
), shaped as (
    select d.*, p.template, t.duration_months,
           floor(d.r_age * t.duration_months)::int as k_due,
           case when d.r_late < 0.030 then 1 when d.r_late < 0.040 then 2 when d.r_late < 0.045 then 3
                when d.r_late < 0.049 then 4 + floor(d.r_k * 3)::int when d.r_late < 0.0502 then 7 + floor(d.r_k * 4)::int
                else 0 end as k_late,
           case when d.day <= extract(day from {{business_date}})
                then make_date(extract(year from {{business_date}})::int, extract(month from {{business_date}})::int, d.day)
                else (make_date(extract(year from {{business_date}})::int, extract(month from {{business_date}})::int, d.day) - interval '1 month')::date
           end as last_due
      from draws d join bench.picks p on p.slot = d.slot join bench.templates t on t.template = p.template
), loans as (
    select gen_random_uuid() as id, gen_random_uuid() as application_id, s.template, s.day, s.k_due,
           least(s.k_late, s.k_due) as k_unpaid, s.k_due - least(s.k_late, s.k_due) as k_paid,
           case when s.r_part < 0.3 then 0.2 + 0.6 * s.r_frac else 0 end as partial_frac,
           case when s.k_due >= 1 then (s.last_due - (s.k_due - 1) * interval '1 month')::date
                else (s.last_due + interval '1 month')::date end as first_due,
           s.r_hist < 0.42 as settled_before, s.r_h1, s.r_h2, s.r_h3, s.r_h,
           (array{list(ASSOCIATIONS)})[1 + s.association] as association_id,
           (array{list(REGIONS)})[1 + s.region] as region,
           'c-' || (array{list(ASSOCIATIONS)})[1 + s.association] || '-' || s.counsellor as counsellor_id,
           (array{list(BANKS)})[1 + s.bank] as bank_id,
           case when s.r_payee < 0.6 then 'borrower' else 'Garage du Centre' end as payee
      from shaped s
)
select row_number() over (order by id) as seq, l.*,
       -- Instalments missed and settled before the migration: 1 to 3 among those paid.
       case when l.settled_before and l.k_paid > 0 then 1 + floor(l.r_h1 * l.k_paid)::int end as h1,
       case when l.settled_before and l.k_paid > 0 and l.r_h < 0.5 then 1 + floor(l.r_h2 * l.k_paid)::int end as h2,
       case when l.settled_before and l.k_paid > 0 and l.r_h < 0.2 then 1 + floor(l.r_h3 * l.k_paid)::int end as h3
  from loans l
 order by l.id
"""

LOANS_INSERT = f"""
insert into {SCHEMA}.loans (id, application_id, association_id, region, counsellor_id, bank_id, amount_cents, annual_rate,
    duration_months, first_due_date, guarantee_share, status, payee, disbursed_on, created_at, instalment_day,
    schedule_version, principal_outstanding_cents)
select b.id, b.application_id, b.association_id, b.region, b.counsellor_id, b.bank_id, t.amount_cents, t.annual_rate,
       t.duration_months, b.first_due, 0.5, 'active', b.payee, (b.first_due - interval '1 month')::date,
       (b.first_due - interval '1 month')::timestamptz, b.day, 1,
       coalesce(paid.remaining_principal_cents, t.amount_cents)
         - coalesce(floor(b.partial_frac * part.amount_cents)::int - least(part.interest_cents, floor(b.partial_frac * part.amount_cents)::int), 0)
  from bench.loans b
  join bench.templates t on t.template = b.template
  left join bench.template_lines paid on paid.template = b.template and paid.number = b.k_paid
  left join bench.template_lines part on part.template = b.template and part.number = b.k_paid + 1 and b.k_unpaid > 0
"""

# $1..$2: the range of `seq` this statement loads (two run side by side, one per core).
INSTALMENTS_INSERT = f"""
insert into {SCHEMA}.instalments (loan_id, number, due_date, principal_cents, interest_cents, amount_cents,
    remaining_principal_cents, paid_cents, interest_paid_cents, principal_paid_cents, missed_on)
select b.id, t.number, due.due_on, t.principal_cents, t.interest_cents, t.amount_cents, t.remaining_principal_cents,
       p.paid, least(t.interest_cents, p.paid), p.paid - least(t.interest_cents, p.paid),
       case when t.number <= b.k_paid and t.number in (b.h1, b.h2, b.h3) then due.due_on + 1 end
  from bench.loans b
  join bench.template_lines t on t.template = b.template
  cross join lateral (select (b.first_due + (t.number - 1) * interval '1 month')::date as due_on) due
  cross join lateral (
      select case when t.number <= b.k_paid then t.amount_cents
                  when t.number = b.k_paid + 1 and b.k_unpaid > 0 then floor(b.partial_frac * t.amount_cents)::int
                  else 0 end as paid
  ) p
 where b.seq between $1 and $2
"""

HISTORY_INSERT = f"""
insert into {SCHEMA}.missed_instalments (loan_id, number, business_date, amount_unpaid_cents)
select b.id, h.n, (b.first_due + (h.n - 1) * interval '1 month')::date + 1, t.amount_cents
  from bench.loans b
 cross join lateral (select distinct n from unnest(array[b.h1, b.h2, b.h3]) n where n is not null) h
  join bench.template_lines t on t.template = b.template and t.number = h.n
"""

# Undo what earlier runs of the benchmark did, so --keep measures the same run again.
RESET = f"""
update {SCHEMA}.instalments i set missed_on = null
  from {SCHEMA}.missed_instalments m
 where m.business_date in (select business_date from {SCHEMA}.cob_runs) and i.loan_id = m.loan_id and i.number = m.number;
delete from {SCHEMA}.missed_instalments where business_date in (select business_date from {SCHEMA}.cob_runs);
update {SCHEMA}.loans set status = 'active', written_off_on = null where written_off_on is not null;
update {SCHEMA}.loans set days_past_due = 0, arrears_cents = 0, delinquency_stage = 'current'
 where status = 'active' and (days_past_due > 0 or arrears_cents > 0);
delete from {SCHEMA}.cob_runs;
truncate {SCHEMA}.outbox;
"""


# --- measurements --------------------------------------------------------------------------------


def status_kb(pid: int | None, key: str = "VmHWM") -> int | None:
    """A kB field of /proc/<pid>/status (None when unknown)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def mib(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:,.0f} MiB"


async def loans_topic_end(bootstrap: str) -> int:
    """The sum of the end offsets of the loans topic: how many records it ever received."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - the topic's partitions, at once
        partitions = [TopicPartition(Topics.LOANS, p) for p in consumer.partitions_for_topic(Topics.LOANS) or ()]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


# --- the benchmark -------------------------------------------------------------------------------


async def database_dsn(server_dsn: str, fresh: bool) -> str:
    """The benchmark's own database on the server (dropped and created again when `fresh`)."""
    admin = await asyncpg.connect(server_dsn)
    try:
        exists = await admin.fetchval("select true from pg_database where datname = $1", DATABASE)
        if fresh and exists:
            await admin.execute(f"drop database {DATABASE} with (force)")
        if fresh or not exists:
            await admin.execute(f"create database {DATABASE}")
    finally:
        await admin.close()
    base, _, _ = server_dsn.rpartition("/")
    return f"{base}/{DATABASE}"


async def kept_portfolio(dsn: str, loans: int) -> asyncpg.Record | None:
    """The generated portfolio's description, if the database holds one of `loans` loans."""
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("select to_regclass('bench.meta') is not null"):
            return None
        meta = await conn.fetchrow("select loans, business_date, seed from bench.meta")
        return meta if meta is not None and meta["loans"] == loans else None
    finally:
        await conn.close()


async def generate(pool: asyncpg.Pool, loans: int, business_date: date, seed: int) -> dict[str, Any]:
    """Fill the servicing tables with `loans` active loans as of `business_date`; return what was made."""
    catalogue = templates()
    async with pool.acquire() as conn:
        await conn.execute(STAGING)
        await conn.copy_records_to_table("templates", schema_name="bench", records=catalogue)
        lines = [
            (t, s.number, s.principal_cents, s.interest_cents, s.instalment_cents, s.remaining_principal_cents)
            for t, amount, rate, months in catalogue
            for s in amortisation_schedule(amount, rate, months, date(2026, 1, 5))
        ]
        await conn.copy_records_to_table("template_lines", schema_name="bench", records=lines)
        await conn.copy_records_to_table("picks", schema_name="bench", records=picks(catalogue, seed))
        await conn.execute("analyze bench.templates, bench.template_lines, bench.picks")
        await conn.execute("select setseed($1)", (seed % 1000) / 1000)
        await conn.execute(LOANS_DRAWN.format(loans=int(loans), business_date=f"date '{business_date.isoformat()}'"))
        await conn.execute("create index on bench.loans (seq); analyze bench.loans")
        # Secondary indexes are built once at the end (faster than maintained row by row); the primary
        # keys stay, fed in key order. Foreign keys are not re-checked for generated rows.
        indexes = await conn.fetch(
            "select indexname, indexdef from pg_indexes i where schemaname = $1 and tablename in ('loans', 'instalments', 'missed_instalments')"
            " and not exists (select 1 from pg_constraint c where c.conname = i.indexname)",
            SCHEMA,
        )
        for index in indexes:
            await conn.execute(f"drop index {SCHEMA}.{index['indexname']}")
    started = time.monotonic()
    halves = [(1, loans // 2), (loans // 2 + 1, loans)]

    async def load(sql: str, *args: Any) -> None:
        async with pool.acquire() as conn:
            try:
                await conn.execute("set session_replication_role = replica")
            except asyncpg.InsufficientPrivilegeError:
                pass  # not a superuser: foreign keys are checked row by row, slower but the same rows
            await conn.execute("set work_mem = '256MB'")
            await conn.execute(sql, *args)

    await load(LOANS_INSERT)
    await asyncio.gather(*(load(INSTALMENTS_INSERT, lo, hi) for lo, hi in halves), load(HISTORY_INSERT))
    loaded = time.monotonic() - started

    async def build(definition: str) -> None:
        async with pool.acquire() as conn:
            await conn.execute("set maintenance_work_mem = '1GB'")
            await conn.execute(definition)

    await asyncio.gather(*(build(i["indexdef"]) for i in indexes))
    async with pool.acquire() as conn:
        # As a production table would be: statistics, hint bits and the visibility map up to date.
        await conn.execute(f"vacuum analyze {SCHEMA}.loans, {SCHEMA}.instalments, {SCHEMA}.missed_instalments")
        await conn.execute("insert into bench.meta values ($1, $2, $3, now())", loans, business_date, seed)
        stats = await conn.fetchrow(
            f"""select (select count(*) from {SCHEMA}.instalments) as instalments,
                       (select count(*) from {SCHEMA}.missed_instalments) as settled_misses,
                       (select count(*) from bench.loans where k_unpaid > 0) as in_arrears,
                       (select count(*) from bench.loans where k_unpaid > 0 or h1 is not null) as ever_missed,
                       (select avg(t.amount_cents) / 100 from bench.loans b join bench.templates t using (template)) as average_euros,
                       pg_size_pretty(pg_database_size(current_database())) as size"""
        )
    return {**dict(stats), "templates": len(catalogue), "template_lines": len(lines), "load_seconds": loaded}


async def reset(pool: asyncpg.Pool) -> None:
    """Bring a kept portfolio back to its state before any close of business."""
    async with pool.acquire() as conn:
        await conn.execute(RESET)
        await conn.execute(f"vacuum analyze {SCHEMA}.loans, {SCHEMA}.instalments, {SCHEMA}.missed_instalments, {SCHEMA}.outbox")


async def checkpoint(pool: asyncpg.Pool) -> None:
    """Flush what the generation left dirty, so the run does not pay for it (needs the right to)."""
    try:
        await pool.execute("checkpoint")
    except asyncpg.PostgresError as exc:
        print(f"  (no checkpoint before the run: {exc})", file=sys.stderr)


async def close_of_business(
    pool: asyncpg.Pool, bootstrap: str, business_date: date, policy: domain.CobPolicy, batch_size: int, traced: bool,
    relay_after: bool,
) -> dict[str, Any]:
    """Run the close of business with the outbox relay publishing to Kafka; time both until the outbox is empty.

    The relay runs during the chunks as in the service, or (`relay_after`) starts once they are all
    committed, which measures the relay's own throughput on the whole backlog.
    """
    provider = TracerProvider()  # spans are made and propagated as in the service, exported nowhere
    registry = CollectorRegistry()
    broker = create_broker(bootstrap, client_id="bench-servicing", tracer_provider=provider, registry=registry)
    await broker.start()
    relay = OutboxRelay(
        pool, broker, schema=SCHEMA, batch_size=batch_size, poll_seconds=0.2, metrics=PlumbingMetrics.create(registry),
        tracer_provider=provider,
    )
    before = await loans_topic_end(bootstrap)
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
    on_kafka = await loans_topic_end(bootstrap) - before
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
    await ensure_topics(bootstrap)
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
            pool, bootstrap, business_date, policy, args.batch_size, not args.no_trace, args.relay_after
        )
        figures["memory_kb"] = {
            "benchmark": status_kb(os.getpid()),
            "kafka": status_kb(kafka_pid),
            **dict(zip(("postmaster", "postgres_backend"), await postgres_memory(pool, postgres_pid), strict=True)),
        }
    finally:
        await pool.close()
    return figures


def render(f: dict[str, Any], args: argparse.Namespace) -> str:
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
