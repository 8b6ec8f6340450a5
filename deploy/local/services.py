"""Run the six services as separate OS processes (used by the platform launcher and the e2e tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.local import REPO_ROOT
from deploy.local.process import pid_alive, tail, terminate_group
from shared.kafka_auth import KafkaLogin

SERVICES: tuple[str, ...] = ("intake", "assessment", "servicing", "notifications", "directory", "privacy")
# The web workspace: pages for people, calling the services above with each person's token.
WEB = "web"


def tracing_env(zipkin: str | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """OpenTelemetry's standard variables that send a process's spans to the Zipkin server at `zipkin`.

    Head sampling is parent-based (a request sampled where it enters stays whole across services): every trace
    by default, the share `OTEL_TRACES_SAMPLER_ARG` says when `make run` is given one (`0.1`: one in ten).
    """
    if not zipkin:
        return {"OTEL_TRACES_EXPORTER": "none"}
    env = os.environ if environ is None else environ
    return {
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"{zipkin}/api/v2/spans",
        "OTEL_TRACES_SAMPLER": env.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        "OTEL_TRACES_SAMPLER_ARG": env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"),
    }


def web_env(urls: dict[str, str], *, issuer: str, client_secret: str, dsn: str, zipkin: str | None) -> dict[str, str]:
    """The workspace's settings: where the services and the provider are, its client secret, its sessions' database,
    where its spans go and where a page's trace is seen."""
    env = {"OIDC_ISSUER": issuer, "OIDC_CLIENT_SECRET": client_secret, "DATABASE_URL": dsn, **tracing_env(zipkin)}
    env.update({f"{name.upper()}_URL": url for name, url in urls.items() if name in SERVICES})
    if zipkin:
        env["TRACE_URL"] = f"{zipkin}/zipkin/traces/{{trace_id}}"
    return env


def kafka_env(login: KafkaLogin) -> dict[str, str]:
    """A service's own Kafka principal, as its settings read it (`<SERVICE>_KAFKA_USERNAME`, `…_KAFKA_PASSWORD`)."""
    return {"KAFKA_USERNAME": login.username, "KAFKA_PASSWORD": login.password}


def env_prefix(service: str) -> str:
    """Environment prefix of a service's settings (`INTAKE_`, …)."""
    return f"{service.upper()}_"


@dataclass
class ServiceProcess:
    """One service process (replica `replica` of its service): started detached in its own process group, logs to a file."""

    name: str
    port: int
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    replica: int = 1

    @property
    def stem(self) -> str:
        """`intake` for the first replica (the files of a single-process platform), `intake-2` for the second…"""
        return self.name if self.replica == 1 else f"{self.name}-{self.replica}"

    @property
    def url(self) -> str:
        """Base URL of the service's HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        """Where the process writes its logs."""
        return self.run_dir / f"{self.stem}.log"

    @property
    def pid_file(self) -> Path:
        """Where the process id is kept between commands."""
        return self.run_dir / f"{self.stem}.pid"

    def pid(self) -> int | None:
        """The live process id, or None."""
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start(self) -> None:
        """Launch `python -m services.<name>` with this service's settings in the environment."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        prefix = env_prefix(self.name)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", f"{prefix}HTTP_PORT": str(self.port)}
        # OpenTelemetry's standard variables (OTEL_*) go as they are; the service's own settings take its prefix.
        env.update({k if k.startswith((prefix, "OTEL_")) else prefix + k: v for k, v in self.env.items()})
        if "PRIVACY_KEK" in self.env:  # the keyring's KEK, given once for all: the privacy service's prefix is PRIVACY_ too
            env[f"{prefix}PRIVACY_KEK"] = self.env["PRIVACY_KEK"]
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until `/ready` answers 200 (database and broker reachable); fail with the log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise RuntimeError(f"{self.stem} exited during start-up:\n{tail(self.log_file)}")
            try:
                if httpx.get(self.url + "/ready", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.stem} not ready after {timeout:.0f}s:\n{tail(self.log_file)}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the process group, SIGKILL what outlives `timeout`."""
        pid = self.pid()
        if pid is not None:
            terminate_group(pid, timeout)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        pid = self.pid()
        if pid is not None:
            os.killpg(pid, 9)
            terminate_group(pid, 5.0)


def replicas_of(name: str, run_dir: Path) -> list[ServiceProcess]:
    """Every replica of `name` whose pid file is in `run_dir` (running or not), first replica first."""
    found = [ServiceProcess(name, 0, run_dir)] if (run_dir / f"{name}.pid").exists() else []
    for pid_file in run_dir.glob(f"{name}-*.pid"):
        suffix = pid_file.stem.removeprefix(f"{name}-")
        if suffix.isdigit():
            found.append(ServiceProcess(name, 0, run_dir, replica=int(suffix)))
    return sorted(found, key=lambda p: p.replica)


def write_manifest(path: Path, data: dict[str, object]) -> None:
    """Persist what the platform runs (addresses, pids) for `status`, `demo` and `stop`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def manifest_replicas(manifest: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """Each service of a manifest `read_manifest` returned, with its replicas' entries (url, pid, log): one for one process."""
    return {name: list(info.get("replicas", [info])) for name, info in manifest.get("services", {}).items()}


def read_manifest(path: Path) -> dict[str, object]:
    """What `write_manifest` stored, or {} when the platform is not up."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
