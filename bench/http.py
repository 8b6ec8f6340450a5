"""Intake's draft + submission at 1, 8 and 32 clients, beside a hello-world endpoint measured in the same run: `python -m bench.http`.

    .venv/bin/python -m bench.http [--seconds 5] [--clients 1 8 32] [--idempotency-key]   # on a running platform (`make run`)

Each client is one keep-alive connection that, in a loop, opens a complete file (`POST /applications`)
and submits it (`POST /applications/{id}/submission`) as a counsellor of the Secours Catholique, for
`--seconds` per concurrency. The raw ceiling, measured at once after each level with the same client and
the same number of clients: `GET /hello` of a hello-world FastAPI app (bench/hello.py, started and
stopped here) served by uvicorn as the services are. The client is a minimal HTTP/1.1 client
(bench/http_client.py) so that the load costs the two cores little. Printed per concurrency: requests
per second, p50 and p99 per request, the ratio to the ceiling, and the CPU each server process spent
per request. Each submission also sets assessment and the other consumers to work: their CPU is
taken from the same cores, as it would be in production on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvloop

from bench.flow_report import percentile, table
from bench.http_client import Connection, header_lines
from bench.processes import cpu_seconds
from deploy.local.identity import LocalIdentity
from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.journey import sample_application
from deploy.local.ports import find_free_port
from deploy.local.services import read_manifest
from shared.auth import Principal, Role

NOT_RUNNING = "start the platform first: make run"
COUNSELLOR = Principal(subject="c-lefebvre", role=Role.COUNSELLOR, association_id="secours-catholique", region="hauts-de-france")
JSON = {"Content-Type": "application/json"}


@dataclass
class Level:
    """What one load at one concurrency measured."""

    clients: int
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    errors: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0  # CPU seconds the server process used meanwhile

    @property
    def per_second(self) -> float:
        """Requests answered per second."""
        return len(self.latencies) / self.wall if self.wall else 0.0

    def figures(self) -> dict[str, Any]:
        """Requests per second, p50/p99 (ms), errors, server CPU per request (ms)."""
        p50, p99 = (percentile(self.latencies, q) for q in (50, 99))
        return {
            "requests": len(self.latencies),
            "per_second": round(self.per_second, 1),
            "p50_ms": None if p50 is None else round(p50 * 1e3, 1),
            "p99_ms": None if p99 is None else round(p99 * 1e3, 1),
            "errors": dict(self.errors),
            "server_cpu_ms_per_request": round(self.cpu * 1e3 / len(self.latencies), 2) if self.latencies else None,
        }


Step = Callable[[Connection, int, Level], Awaitable[None]]


async def _timed(level: Level, request: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    answer = await request
    level.latencies.append(time.perf_counter() - started)
    return answer


def draft_and_submission(auth: dict[str, str], idempotency: bool) -> Step:
    """One client's turn on intake: open a complete file, then submit it."""
    bodies = [json.dumps(sample_application(n)).encode() for n in range(64)]
    headers = header_lines({**auth, **JSON})
    submission = b"{}"

    async def step(conn: Connection, n: int, level: Level) -> None:
        draft_headers = headers + header_lines({"Idempotency-Key": f'"{uuid.uuid4()}"'}) if idempotency else headers
        draft = await _timed(level, conn.request("POST", "/applications", headers=draft_headers, body=bodies[n % len(bodies)]))
        if draft.status != 201:
            level.errors[f"draft {draft.status}"] += 1
            return
        app_id = json.loads(draft.body)["id"]
        submitted = await _timed(level, conn.request("POST", f"/applications/{app_id}/submission", headers=headers, body=submission))
        if submitted.status != 200:
            level.errors[f"submission {submitted.status}"] += 1

    return step


async def hello(conn: Connection, _: int, level: Level) -> None:
    """One client's turn on the ceiling."""
    answer = await _timed(level, conn.request("GET", "/hello"))
    if answer.status != 200:
        level.errors[f"hello {answer.status}"] += 1


async def load(address: tuple[str, int], pid: int, step: Step, clients: int, seconds: float) -> Level:
    """`clients` connections doing `step` in a loop for `seconds`; the server's CPU read around it."""
    level = Level(clients)
    connections = [await Connection.open(*address) for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    async def client(index: int, conn: Connection) -> None:
        n = index
        while time.perf_counter() < deadline:
            await step(conn, n, level)
            n += clients

    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(i, c) for i, c in enumerate(connections)))
    finally:
        level.wall = time.perf_counter() - started
        level.cpu = cpu_seconds(pid) - cpu_before
        for conn in connections:
            await conn.close()
    return level


async def _hello_server(port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.hello", "--port", str(port), stdin=subprocess.DEVNULL, start_new_session=True
    )
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/hello")).status_code == 200:
                    return process
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError("the hello-world server did not start")


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def run(state_dir: Path, levels: list[int], seconds: float, idempotency: bool, intake: dict[str, Any]) -> dict[str, Any]:
    """Warm both servers up, then each level on intake and at once on the ceiling."""
    auth = await LocalIdentity.of_state_dir(state_dir).headers(COUNSELLOR)
    port = find_free_port()
    server = await _hello_server(port)
    intake_step = draft_and_submission(auth, idempotency)
    address, intake_pid = _address(str(intake["url"])), int(intake["pid"])
    try:
        await load(address, intake_pid, intake_step, 4, min(seconds, 1.0))
        await load(("127.0.0.1", port), server.pid, hello, 4, min(seconds, 1.0))
        figures = []
        for clients in levels:
            measured = await load(address, intake_pid, intake_step, clients, seconds)
            ceiling = await load(("127.0.0.1", port), server.pid, hello, clients, seconds)
            figures.append({
                "clients": clients,
                "intake": measured.figures(),
                "hello_world": ceiling.figures(),
                "ratio": round(measured.per_second / ceiling.per_second, 3) if ceiling.per_second else None,
            })
            print(f"  {clients} clients done (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
    return {"seconds_per_level": seconds, "idempotency_key": idempotency, "levels": figures}


def render(figures: dict[str, Any], load_before: tuple[float, float, float]) -> str:
    """The report: one line per concurrency, intake beside the ceiling."""
    rows = []
    for level in figures["levels"]:
        i, h = level["intake"], level["hello_world"]
        rows.append([
            level["clients"], i["per_second"], i["p50_ms"], i["p99_ms"], sum(i["errors"].values()), i["server_cpu_ms_per_request"],
            h["per_second"], h["p50_ms"], h["p99_ms"], h["server_cpu_ms_per_request"], level["ratio"],
        ])
    header = [
        "clients", "intake req/s", "p50 ms", "p99 ms", "errors", "CPU ms/req",
        "hello req/s", "p50 ms", "p99 ms", "CPU ms/req", "ratio",
    ]
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, os.getloadavg()))
    keyed = " with an Idempotency-Key on each draft" if figures["idempotency_key"] else ""
    errors = {level["clients"]: level["intake"]["errors"] for level in figures["levels"] if level["intake"]["errors"]}
    return "\n".join([
        (f"intake: draft + submission (2 requests each){keyed}, {figures['seconds_per_level']:g} s per level;"
         " the ceiling: GET /hello of a hello-world FastAPI app, same client"),
        table(header, rows),
        f"  load average before {before}, after {after} ({os.cpu_count()} cores; other processes of the machine included)",
        *([f"  errors: {errors}"] if errors else []),
    ])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per concurrency and server (default 5)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrencies (default 1 8 32)")
    parser.add_argument("--idempotency-key", action="store_true", help="send a fresh Idempotency-Key with each draft")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    parser.add_argument("--intake-url", help="another intake process of the platform to measure (an A/B run of two versions)")
    parser.add_argument("--intake-pid", type=int, help="that process's id, for its CPU figures")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or min(args.clients) < 1:
        parser.error("--seconds must be positive and --clients at least 1")
    state_dir: Path = args.state_dir.resolve()
    manifest = read_manifest(state_dir / "run" / "platform.json")
    if "intake" not in (manifest.get("services") or {}):  # type: ignore[operator]
        print(NOT_RUNNING, file=sys.stderr)
        return 1
    intake = dict(manifest["services"]["intake"])  # type: ignore[index]
    if args.intake_url:
        if args.intake_pid is None:
            parser.error("--intake-url needs --intake-pid")
        intake = {"url": args.intake_url, "pid": args.intake_pid}
    load_before = os.getloadavg()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        figures = runner.run(run(state_dir, args.clients, args.seconds, args.idempotency_key, intake))
    print(render(figures, load_before))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
