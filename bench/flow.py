"""Push N applications through the running platform, submission to counsellor alert: `python -m bench.flow`.

Each journey runs up to the counsellor's alert of the disbursement, its HTTP commands and its event hops
measured apart (the hops from the records' timestamps on Kafka, `bench/hops.py`); then one close of
business runs for the whole batch, timed on its own, with the hops it sets off (missed instalment →
alert). `--concurrency 1` walks one journey at a time (the hop figures of an idle platform); `--rate`
starts journeys at a fixed pace whatever is in flight (open loop), for the step percentiles at a given rate.
The raw ceiling comes last, in the same run: as many journeys' records, as many at a time, through Kafka alone
(`bench/fanout.py`: the relays' writes and a bare consumer in each of the platform's groups, nothing else).

The replica count is the running platform's (`make run REPLICAS=n`; `--replicas`/REPLICAS only checks it):
each run's throughput is kept per replica count in `<state dir>/bench/flow-by-replicas.json`, and the report
ends with the latest figure of each count measured so far, to compare one replica with several.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import fanout, phases
from bench.flow_report import latency_figures, render, table
from bench.hops import hop_figures, pair, read_window
from bench.journeys import run_journeys
from deploy.local.identity import LocalIdentity
from deploy.local.journey import Credentials
from bench.kafka_probe import CONSUMER_GROUPS, KafkaProbe, committed_offsets, count_events, wait_until_drained
from bench.processes import cpu_budget, cpu_snapshot, process_figures, process_groups
from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.services import read_manifest

NOT_RUNNING = "start the platform first: make run"


async def _ready(urls: Mapping[str, str]) -> bool:
    """True when every service answers /ready."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        try:
            return all([(await client.get(f"{u}/ready")).status_code == 200 for u in urls.values()])
        except httpx.HTTPError:
            return False


async def close_of_business(
    urls: Mapping[str, str], identity: LocalIdentity, probe: KafkaProbe, business_date: date, drain_timeout: float
) -> dict[str, Any]:
    """One close of business for the whole batch, timed, then the event hops it set off, read from Kafka."""
    ops = (await Credentials.sign_in(identity)).as_ops()
    started = time.time()
    async with httpx.AsyncClient(timeout=600.0) as client:
        answer = await client.post(f"{urls['servicing']}/close-of-business", json={"business_date": business_date.isoformat()}, headers=ops)
    seconds = time.time() - started
    if answer.status_code != 200:
        return {"business_date": business_date.isoformat(), "error": f"HTTP {answer.status_code} {answer.text[:300]}"}
    await wait_until_drained(probe.consumer, probe.admin, probe.partitions, drain_timeout)
    ended = time.time()
    seen = await read_window(probe.consumer, probe.partitions, int(started * 1000), int(ended * 1000))
    return {
        **answer.json(), "business_date": business_date.isoformat(), "seconds": round(seconds, 3),
        "drained_seconds": round(ended - started, 3), "hops": hop_figures(pair(seen)),
    }


async def benchmark(manifest: Mapping[str, Any], state_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run the journeys, then one close of business for all of them, and collect every figure."""
    urls = {name: str(info["url"]) for name, info in manifest["services"].items()}
    identity = LocalIdentity.of_state_dir(state_dir)
    probe = KafkaProbe(str(manifest["kafka"]))
    await probe.start()
    try:
        await wait_until_drained(probe.consumer, probe.admin, probe.partitions, args.drain_timeout)
        groups_before = await committed_offsets(probe.admin)
        procs = process_groups(manifest, state_dir)
        phases_before = await phases.scrape(phases.replica_urls(manifest))
        cpu_before: dict[int, float] = {}
        # Each process's CPU is counted from the clock's start, as the machine's is: not the counsellors' sign-in.
        run = await run_journeys(
            urls, identity, args.applications, args.concurrency, args.timeout, rate=args.rate,
            on_start=lambda: cpu_before.update(cpu_snapshot(procs)),
        )
        drained = await wait_until_drained(probe.consumer, probe.admin, probe.partitions, args.drain_timeout)
        window_end = time.time()
        phase_means = phases.phase_figures(phases_before, await phases.scrape(phases.replica_urls(manifest)))
        groups_after = await committed_offsets(probe.admin)
        processes = process_figures(process_groups(manifest, state_dir), cpu_before, run.wall)
        window = (int(run.started_at * 1000), int(window_end * 1000))
        counts = await count_events(probe.consumer, probe.partitions, *window)
        hops = hop_figures(pair(await read_window(probe.consumer, probe.partitions, *window)))
        cob = None
        if args.close_of_business:
            # The journeys' first instalments all fall due on this date (deploy/local/journey.py).
            cob = await close_of_business(urls, identity, probe, date.today() + timedelta(days=30), args.drain_timeout)
    finally:
        await probe.stop()
    # The raw ceiling, in the same run: the journeys' records through Kafka alone, as many at a time.
    kafka_alone = await fanout.run(
        manifest, state_dir, args.applications, args.concurrency if args.rate is None else max(1, run.most_in_flight)
    ) if args.ceiling else None
    wall = run.wall
    produced = sum(sum(t.values()) for t in counts.values())
    consumed = {
        g: sum(off - groups_before[g].get(tp, 0) for tp, off in groups_after[g].items()) for g in CONSUMER_GROUPS
    }
    return {
        "run": {
            "applications": args.applications,
            "concurrency": args.concurrency,
            "rate": args.rate,
            "most_in_flight": run.most_in_flight,
            "wall_seconds": round(wall, 3),
            "completed": len(run.completed),
            "failed": sum(run.failures.values()),
            "failures": dict(run.failures.most_common(5)),
            "completed_per_second": round(len(run.completed) / wall, 2) if wall else 0.0,
        },
        "latency": latency_figures(run.completed),
        "events": {
            "window_seconds": round(window_end - run.started_at, 3),
            "drained": drained,
            "produced": {
                src: {"count": n, "per_second": round(n / wall, 2), "by_type": dict(types)}
                for src, types in sorted(counts.items())
                for n in [sum(types.values())]
            },
            "produced_total": produced,
            "consumed": {g: {"count": n, "per_second": round(n / wall, 2)} for g, n in consumed.items()},
            "hops": hops,
        },
        "phases": phase_means,
        "close_of_business": cob,
        "kafka_alone": kafka_alone,
        "processes": processes,
        "cpu": cpu_budget(run.busy_seconds, wall, len(run.completed), produced),
        "load": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "replicas": int(manifest.get("replicas", 1)),
    }


def by_replicas(history: Path, figures: Mapping[str, Any]) -> dict[str, Any]:
    """Keep this run's throughput as the latest of its replica count in `history`; the latest of every count."""
    try:
        kept = json.loads(history.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        kept = {}
    run = figures["run"]
    kept[str(figures["replicas"])] = {
        "applications": run["applications"], "concurrency": run["concurrency"], "rate": run["rate"],
        "completed": run["completed"], "failed": run["failed"], "completed_per_second": run["completed_per_second"],
        "events_per_second": round(figures["events"]["produced_total"] / run["wall_seconds"], 1) if run["wall_seconds"] else 0.0,
        "load": figures["load"], "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_text(json.dumps(kept, indent=2) + "\n")
    return dict(sorted(kept.items(), key=lambda item: int(item[0])))


def render_by_replicas(kept: Mapping[str, Any]) -> str:
    """The latest throughput of each replica count measured on this platform's state dir."""
    rows = [
        [n, k["applications"], k["rate"] or k["concurrency"], k["completed"], k["failed"], f"{k['completed_per_second']:.1f}",
         f"{k['events_per_second']:.1f}", k["load"], k["measured_at"]]
        for n, k in kept.items()
    ]
    headers = ["replicas", "applications", "concurrency/rate", "completed", "failed", "applications/s", "events/s",
               "load (1 5 15 min)", "measured at (UTC)"]
    return "throughput per replica count (the latest run of each; the machine's load beside it)\n" + table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.flow", description=__doc__)
    parser.add_argument("--applications", type=int, default=200, help="applications to push through (default 200)")
    parser.add_argument("--concurrency", type=int, default=16, help="journeys in flight at once (default 16); 1: one at a time")
    parser.add_argument("--rate", type=float, help="open loop instead: start this many journeys a second, whatever is in flight")
    parser.add_argument("--no-close-of-business", dest="close_of_business", action="store_false",
                        help="skip the one close of business run for the whole batch after the journeys")
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                        help="skip the raw ceiling after the journeys: their records through Kafka alone (bench/fanout.py)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a journey may wait for any one step")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to wait for Kafka to settle")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--replicas", type=int, default=int(os.environ["REPLICAS"]) if os.environ.get("REPLICAS") else None,
                        help="the replica count expected of the running platform (default: whatever `make run REPLICAS=n` started)")
    args = parser.parse_args(argv)
    if args.applications < 1 or args.concurrency < 1 or (args.rate is not None and args.rate <= 0):
        parser.error("--applications and --concurrency must be at least 1, --rate above 0")
    state_dir: Path = args.state_dir.resolve()
    manifest = read_manifest(state_dir / "run" / "platform.json")
    services = manifest.get("services")
    if not isinstance(services, dict) or not asyncio.run(_ready({n: i["url"] for n, i in services.items()})):
        print(NOT_RUNNING, file=sys.stderr)
        return 1
    replicas = int(manifest.get("replicas", 1))
    if args.replicas is not None and args.replicas != replicas:
        print(f"the running platform has {replicas} replica(s) of each service, not {args.replicas}:"
              f" `make down` then `make run REPLICAS={args.replicas}`", file=sys.stderr)
        return 1
    pace = f"{args.rate:g} journeys/s" if args.rate else f"concurrency {args.concurrency}"
    print(f"benchmark: {args.applications} applications, {pace}, {replicas} replica(s) of each service, platform {state_dir}",
          file=sys.stderr)
    figures = asyncio.run(benchmark(manifest, state_dir, args))
    print(render(figures))
    print()
    print(render_by_replicas(by_replicas(state_dir / "bench" / "flow-by-replicas.json", figures)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
