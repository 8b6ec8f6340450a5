"""VictoriaMetrics on this machine, without Docker: it scrapes each service's `/metrics` and draws them.

Its binaries (`victoria-metrics`, with the vmui embedded; `vmalert` and `vmalert-tool` for the alert
rules) are built once with `go install …@v<version>` (the version pinned in `deploy/versions.toml`)
into the git-ignored `.local/victoria/bin/`, shared by every state dir and reused offline afterwards
(about a minute the first time). A server is started on a chosen port with a scrape file generated
from the addresses `make run` gave the services (`scrape_config`), the dashboards of
`deploy/metrics/dashboards/` and its data under `<state dir>/victoria/`; it is ready when `/health`
answers, never after a sleep; `stop` ends its process group.

    python -m deploy.local.victoria build     # the binaries, once (make run does it when missing)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


from deploy.local import REPO_ROOT
from deploy.local.ports import LOOPBACK, find_free_port, is_port_free
from deploy.local.process import Detached, answers, file_lock
from deploy.versions import pinned

MODULE = "github.com/VictoriaMetrics/VictoriaMetrics"
# What `go install` builds: the server, and the rule evaluator with its unit-test runner.
TOOLS = {"victoria-metrics": "app/victoria-metrics", "vmalert": "app/vmalert", "vmalert-tool": "app/vmalert-tool"}
DEFAULT_BIN_DIR = REPO_ROOT / ".local" / "victoria" / "bin"
METRICS_DIR = REPO_ROOT / "deploy" / "metrics"
DASHBOARDS_DIR = METRICS_DIR / "dashboards"
ALERT_RULES = METRICS_DIR / "alerts.yml"
SCRAPE_JOB = "microcredit"
SCRAPE_INTERVAL = "10s"
DEFAULT_START_TIMEOUT = 60.0


class VictoriaError(RuntimeError):
    """Raised when VictoriaMetrics cannot be built, started or stopped."""


def _fingerprint(version: str) -> str:
    return json.dumps({"version": version, "tools": sorted(TOOLS)})


def binaries_ready(bin_dir: Path = DEFAULT_BIN_DIR, version: str | None = None) -> bool:
    """Whether `bin_dir` holds every binary, built from the pinned version."""
    marker = bin_dir / ".built"
    return (
        marker.is_file()
        and marker.read_text() == _fingerprint(version or pinned("victoriametrics"))
        and all((bin_dir / tool).is_file() for tool in TOOLS)
    )


def ensure_binaries(bin_dir: Path = DEFAULT_BIN_DIR, version: str | None = None) -> Path:
    """Build the binaries with `go install` unless already there; return the directory holding them."""
    version = version or pinned("victoriametrics")
    if binaries_ready(bin_dir, version):
        return bin_dir  # offline-friendly: no Go run at all
    # Platform and test sessions share the binaries: one of them builds.
    with file_lock(bin_dir.parent / ".build.lock"):
        if binaries_ready(bin_dir, version):
            return bin_dir
        go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
        if go is None:
            raise VictoriaError("Go ('go') is not on PATH; it is needed once to build VictoriaMetrics")
        bin_dir.mkdir(parents=True, exist_ok=True)
        packages = [f"{MODULE}/{path}@v{version}" for path in TOOLS.values()]
        done = subprocess.run(
            [go, "install", *packages], env={**os.environ, "GOBIN": str(bin_dir)}, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise VictoriaError(f"go install of VictoriaMetrics v{version} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        # The marker is written last, so an interrupted build is retried next time.
        (bin_dir / ".built").write_text(_fingerprint(version))
    return bin_dir


Targets = Mapping[str, str | Sequence[str]]  # service name → its base URL, or its replicas' URLs


def scrape_config(targets: Targets, *, interval: str = SCRAPE_INTERVAL) -> str:
    """A Prometheus scrape file: one job, each service's `/metrics` at its base URL, labelled `service`.

    A service run as several replicas gives the base URL of each (never the address that fronts them, which
    would show one replica's counters at a time): each is scraped, labelled with the same `service` and its
    own `instance`. YAML is a superset of JSON: the file is written as JSON, which any Prometheus-compatible
    scraper reads."""
    static = [
        {"targets": [url.split("://", 1)[-1].rstrip("/") for url in ([urls] if isinstance(urls, str) else urls)],
         "labels": {"service": name}}
        for name, urls in sorted(targets.items())
    ]
    config = {
        "global": {"scrape_interval": interval, "scrape_timeout": "5s"},
        "scrape_configs": [{"job_name": SCRAPE_JOB, "metrics_path": "/metrics", "static_configs": static}],
    }
    return json.dumps(config, indent=2) + "\n"


@dataclass(frozen=True)
class VictoriaStatus:
    """Is the server alive, its pid and its base URL."""

    running: bool
    pid: int | None
    url: str | None


class LocalVictoria:
    """A VictoriaMetrics server whose data, scrape file and log live under `state_dir/victoria`."""

    def __init__(self, state_dir: Path, *, bin_dir: Path = DEFAULT_BIN_DIR, start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.base = self.state_dir / "victoria"
        self.data_dir = self.base / "data"
        self.scrape_file = self.base / "scrape.yml"
        self.port_file = self.base / "port"
        self.log_file = self.base / "victoria.log"
        self.server = Detached("VictoriaMetrics", self.base / "victoria.pid", self.log_file, marker=str(self.data_dir))
        self.bin_dir = bin_dir
        self.start_timeout = start_timeout

    @property
    def binary(self) -> Path:
        return self.bin_dir / "victoria-metrics"

    @property
    def url(self) -> str | None:
        """The server's base URL, once a port was chosen."""
        try:
            return f"http://{LOOPBACK}:{int(self.port_file.read_text())}"
        except (FileNotFoundError, ValueError):
            return None

    def start(self, targets: Targets, *, port: int | None = None, scrape_interval: str = SCRAPE_INTERVAL) -> str:
        """Scrape `targets` (service name → base URL, or its replicas' URLs): start the server (or rewrite the running one's file); its URL."""
        self.base.mkdir(parents=True, exist_ok=True)
        self.scrape_file.write_text(scrape_config(targets, interval=scrape_interval))
        deadline = time.monotonic() + self.start_timeout
        pid = self.server.live_pid()
        if pid is not None and self.url is not None:
            os.kill(pid, 1)  # SIGHUP: re-read the scrape file
            self._wait(self.url, deadline)
            return self.url
        ensure_binaries(self.bin_dir)
        if port is None or not is_port_free(port):
            port = find_free_port()
        self.port_file.write_text(str(port))
        url = f"http://{LOOPBACK}:{port}"
        command = [
            str(self.binary),
            f"-httpListenAddr={LOOPBACK}:{port}",
            f"-storageDataPath={self.data_dir}",
            f"-promscrape.config={self.scrape_file}",
            f"-vmui.customDashboardsPath={DASHBOARDS_DIR}",
            "-retentionPeriod=7d",
            # Local: a sample is queryable a second after it is scraped, not 30 s later.
            "-search.latencyOffset=1s",
            "-memory.allowedPercent=10",
            "-loggerLevel=WARN",
        ]
        self.server.launch(command, cwd=self.base)
        try:
            self._wait(url, deadline)
        except VictoriaError:
            self.stop()
            raise
        return url

    def _wait(self, url: str, deadline: float) -> None:
        self.server.wait_until(lambda: answers(f"{url}/health"), deadline, f"{url}/health", VictoriaError)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server's process group; no-op when it is down."""
        self.server.stop(timeout)

    def status(self) -> VictoriaStatus:
        """Whether the process is alive, its pid and its URL."""
        pid = self.server.live_pid()
        return VictoriaStatus(running=pid is not None, pid=pid, url=self.url)


def main(argv: list[str] | None = None) -> int:
    """`build`: the binaries, once."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["build"]:
        print("usage: python -m deploy.local.victoria build", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(ensure_binaries(), f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
