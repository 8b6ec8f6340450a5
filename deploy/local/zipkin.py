"""Zipkin, the trace UI ops open: the server's executable jar from Maven Central, fetched once into
`.local/zipkin/` (shared by every state dir) and run with the machine's Java, spans kept in memory.

The services export to it with OpenTelemetry's Zipkin JSON exporter (`OTEL_TRACES_EXPORTER=zipkin`,
`OTEL_EXPORTER_ZIPKIN_ENDPOINT`); its UI is at `/zipkin/`, its query API at `/api/v2/`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from deploy.local import REPO_ROOT
from deploy.local.ports import LOOPBACK, find_free_ports, is_port_open
from deploy.local.process import Detached, answers, file_lock
from deploy.versions import pinned

CACHE_DIR = REPO_ROOT / ".local" / "zipkin"
DEFAULT_START_TIMEOUT = 120.0


class ZipkinError(RuntimeError):
    """Zipkin could not be fetched or did not start."""


def ensure_jar(version: str | None = None, cache_dir: Path = CACHE_DIR) -> Path:
    """The server's executable jar, fetched with Maven once (`io.zipkin:zipkin-server:<version>:jar:exec`)."""
    version = version or pinned("zipkin")
    jar = cache_dir / f"zipkin-server-{version}-exec.jar"
    if jar.is_file():
        return jar
    cache_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(cache_dir / ".fetch.lock"):
        if jar.is_file():
            return jar
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ZipkinError("Maven ('mvn') is not on PATH; it is needed once to fetch Zipkin")
        command = [
            mvn, "-q", "-B", "-Dstyle.color=never", "dependency:copy",
            f"-Dartifact=io.zipkin:zipkin-server:{version}:jar:exec", f"-DoutputDirectory={cache_dir}",
        ]
        if os.environ.get("MC_MAVEN_OFFLINE") == "1":
            command.append("-o")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not jar.is_file():
            raise ZipkinError(f"Maven could not fetch Zipkin {version}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return jar


class LocalZipkin:
    """One Zipkin server whose pid, port and log live under `state_dir/zipkin`."""

    def __init__(self, state_dir: Path, *, port: int | None = None, start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.base = Path(state_dir).resolve() / "zipkin"
        self.port_file = self.base / "port"
        self.server = Detached("Zipkin", self.base / "zipkin.pid", self.base / "zipkin.log", marker="zipkin-server")
        self.requested_port = port
        self.start_timeout = start_timeout

    @property
    def url(self) -> str | None:
        """The server's base URL, once it was started."""
        try:
            return f"http://{LOOPBACK}:{int(self.port_file.read_text())}"
        except (FileNotFoundError, ValueError):
            return None

    def start(self) -> None:
        """Launch the server (or keep the running one); `wait_ready` waits for it."""
        if self.server.live_pid() is not None:
            return
        jar = ensure_jar()
        port = self.requested_port
        if port is None or is_port_open(port):
            [port] = find_free_ports(1)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port_file.write_text(str(port))
        java = shutil.which("java", path=str(Path(os.environ.get("JAVA_HOME", "/nonexistent")) / "bin")) or shutil.which("java")
        if java is None:
            raise ZipkinError("no `java` on PATH to run Zipkin")
        self.server.launch(
            # Loopback only, like every other server of the local platform.
            [java, "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", str(jar),
             f"--armeria.ports[0].port={port}", f"--armeria.ports[0].ip={LOOPBACK}", "--armeria.ports[0].protocols=http"],
            env={**os.environ, "STORAGE_TYPE": "mem", "MEM_MAX_SPANS": "100000", "SELF_TRACING_ENABLED": "false"},
        )

    def wait_ready(self) -> str:
        """Wait until the server answers its health check; its URL."""
        try:
            self.server.wait_until(lambda: answers(f"{self.url}/health"), time.monotonic() + self.start_timeout, "/health", ZipkinError)
        except ZipkinError:
            self.stop()
            raise
        return str(self.url)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server; no-op when it is down."""
        self.server.stop(timeout)

    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.server.live_pid() is not None


def fetch_trace(base_url: str, trace_id: str) -> list[dict[str, Any]]:
    """A trace's spans from Zipkin's query API (empty while it has none)."""
    answer = httpx.get(f"{base_url}/api/v2/trace/{trace_id}", timeout=10)
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return list(answer.json())


def find_traces(base_url: str, service: str, span_name: str | None = None, limit: int = 10) -> list[list[dict[str, Any]]]:
    """The newest traces with a span of `service` (named `span_name`, if given), from Zipkin's query API."""
    params: dict[str, Any] = {"serviceName": service.lower(), "limit": limit, "lookback": 3_600_000}
    if span_name:
        params["spanName"] = span_name.lower()
    answer = httpx.get(f"{base_url}/api/v2/traces", params=params, timeout=10)
    answer.raise_for_status()
    return list(answer.json())


def zipkin_records(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Zipkin's spans as the trace viewer reads them (ids, parent, service, kind, times in ns, error)."""
    records = []
    for span in spans:
        start = int(span.get("timestamp", 0)) * 1000
        tags = span.get("tags", {})
        error = tags.get("error") or (tags.get("otel.status_description") if tags.get("otel.status_code") == "ERROR" else None)
        records.append({
            "trace_id": span["traceId"], "span_id": span["id"], "parent_span_id": span.get("parentId"),
            "name": span.get("name", ""), "service": span.get("localEndpoint", {}).get("serviceName", "unknown_service"),
            "kind": span.get("kind", "INTERNAL"), "start_unix_nano": start, "end_unix_nano": start + int(span.get("duration", 0)) * 1000,
            "status_code": "ERROR" if error else "UNSET", "status_message": error or "", "tags": tags,
        })
    return records
