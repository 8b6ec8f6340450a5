"""Memory and CPU of the platform's processes, read from /proc."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deploy.local.haproxy import LocalHaproxy
from deploy.local.infra import infra_status
from deploy.local.services import manifest_replicas
from deploy.local.zipkin import LocalZipkin

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def status_kb(pid: int | None, key: str = "VmHWM") -> int | None:
    """A `kB` field (VmHWM, VmRSS) of /proc/<pid>/status, or None when the process is unknown or gone."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0 when gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0.0
    fields = raw[raw.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(parent: int) -> list[int]:
    """Live processes whose parent is `parent`."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and status_kb(int(entry.name), "PPid") == parent:
            kids.append(int(entry.name))
    return kids


def process_groups(manifest: Mapping[str, Any], state_dir: Path) -> dict[str, list[int]]:
    """Label -> pids for every platform process (services, Zipkin, Kafka, Postgres) and this client."""
    groups: dict[str, list[int]] = {}
    for name, replicas in manifest_replicas(manifest).items():
        # Several replicas of a service are one group (their sum), HAProxy in front of them one more.
        pids = [int(r["pid"]) for r in replicas if r.get("pid")]
        if pids:
            groups[name if len(pids) == 1 else f"{name} ({len(pids)} replicas, sum)"] = pids
    haproxy = LocalHaproxy(state_dir).server.live_pid()
    if haproxy:
        groups["haproxy"] = [haproxy]
    zipkin = LocalZipkin(state_dir).server.live_pid()
    if zipkin:
        groups["zipkin"] = [zipkin]
    kafka, postgres = infra_status(state_dir)
    if kafka.pid:
        groups["kafka broker"] = [kafka.pid]
    if postgres.pid:
        backends = _children(postgres.pid)
        groups["postgres (postmaster only)"] = [postgres.pid]
        groups[f"postgres (all {1 + len(backends)} procs, sum)"] = [postgres.pid, *backends]
    groups["bench client"] = [os.getpid()]
    return groups


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent on anything but idling and waiting for I/O (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS  # user nice system idle iowait irq softirq steal (guest is in user)


def cpu_budget(busy_seconds: float, wall: float, journeys: int, events: int) -> dict[str, Any] | None:
    """What the machine's CPU allows: its cores' busy share during `wall`, the CPU one journey cost (every process
    of the machine, the load generator included), and the journeys and events per second that CPU caps at."""
    if not journeys or wall <= 0:
        return None
    cores = os.cpu_count() or 1
    per_journey = busy_seconds / journeys
    return {
        "cores": cores,
        "busy_percent": round(100 * busy_seconds / (cores * wall), 1),
        "cpu_ms_per_journey": round(1e3 * per_journey, 1),
        "journeys_per_second_at_most": round(cores / per_journey, 1),
        "events_per_second_at_most": round(cores / per_journey * events / journeys, 1),
    }


def cpu_snapshot(groups: Mapping[str, list[int]]) -> dict[int, float]:
    """CPU seconds used so far by every pid of `groups`."""
    return {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids}


def process_figures(groups: Mapping[str, list[int]], cpu_before: Mapping[int, float], wall: float) -> dict[str, Any]:
    """Peak and current resident memory (MiB) and CPU used during the benchmark, per process group."""
    out: dict[str, Any] = {}
    for label, pids in groups.items():
        hwm = [status_kb(p, "VmHWM") or 0 for p in pids]
        rss = [status_kb(p, "VmRSS") or 0 for p in pids]
        cpu = sum(max(0.0, cpu_seconds(p) - cpu_before.get(p, 0.0)) for p in pids)
        out[label] = {
            "pids": pids,
            "vm_hwm_mib": round(sum(hwm) / 1024, 1),
            "vm_rss_mib": round(sum(rss) / 1024, 1),
            "cpu_seconds": round(cpu, 2),
            "cpu_percent_of_wall": round(100 * cpu / wall, 1) if wall else None,
        }
    return out
