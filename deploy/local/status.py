"""`make status`: what of the local platform runs, what is down, and whether the usury caps are current."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from deploy.local import REPO_ROOT
from deploy.local.infra import infra_status
from deploy.local.keycloak import LocalKeycloak
from deploy.local.haproxy import LocalHaproxy
from deploy.local.services import SERVICES, WEB, replicas_of
from deploy.local.mail import LocalMail
from deploy.local.zipkin import LocalZipkin
from deploy.local.victoria import LocalVictoria
from shared.french import day
from shared.usury import DEFAULT_PATH as USURY_CAPS_FILE
from shared.usury import UsuryTable, UsuryTableError

TRACES = "zipkin"
KEYCLOAK = "keycloak"
METRICS = "victoriametrics"
MAIL = "smtp"
NOTHING_RUNNING = "nothing is running (`make run` starts the platform)"
HAPROXY = "haproxy"


@dataclass(frozen=True)
class Piece:
    """One process of the platform: its name, whether it runs, and where it answers."""

    name: str
    running: bool
    address: str = ""
    detail: str = ""  # a service run as several replicas: how many answer, and their own ports


def service_piece(name: str, run_dir: Path, address: str, expected: int, replicas: list[Mapping[str, str]] | None = None) -> Piece:
    """A service is up when each of its `expected` replicas runs; with several, how many do and on which ports.

    `replicas`: the manifest's entries of its replicas (their own URLs and log files)."""
    found = replicas_of(name, run_dir)
    live = [p for p in found if p.pid() is not None]
    running = bool(live) and len(live) >= expected
    if expected <= 1 and len(found) <= 1:
        return Piece(name, running, address)
    urls = {Path(str(r.get("log", ""))).stem: str(r.get("url", "")) for r in replicas or []}
    ports = [f":{urls[p.stem].rsplit(':', 1)[-1]}" for p in live if urls.get(p.stem)]
    detail = f"{len(live)}/{max(expected, len(found))} replicas" + (f" ({' '.join(ports)})" if ports else "")
    return Piece(name, running, address, detail)


def _replicas(services: object, name: str) -> list[Mapping[str, str]]:
    info = services.get(name) if isinstance(services, dict) else None
    return list(info.get("replicas", [])) if isinstance(info, dict) else []


def platform_pieces(state_dir: Path, manifest: Mapping[str, object]) -> list[Piece]:
    """Kafka, Postgres, Keycloak, the five services and the workspace (each replica), HAProxy in front of several,
    Zipkin, VictoriaMetrics and the SMTP server."""
    kafka, postgres = infra_status(state_dir)
    keycloak = LocalKeycloak(state_dir).status()
    victoria = LocalVictoria(state_dir).status()
    mail = LocalMail(state_dir)
    services = manifest.get("services")
    urls = {name: str(info.get("url", "")) for name, info in services.items()} if isinstance(services, dict) else {}
    expected = int(manifest.get("replicas", 1))  # type: ignore[call-overload]
    haproxy = LocalHaproxy(state_dir)
    proxy = [Piece(HAPROXY, haproxy.running(), f"in front of the {expected} replicas")] if expected > 1 or haproxy.running() else []
    return [
        Piece("kafka", kafka.running, kafka.address or ""),
        Piece("postgres", postgres.running, postgres.dsn or ""),
        Piece(KEYCLOAK, keycloak.running, keycloak.issuer or ""),
        *(service_piece(name, state_dir / "run", urls.get(name, ""), expected, _replicas(services, name)) for name in (*SERVICES, WEB)),
        *proxy,
        Piece(TRACES, LocalZipkin(state_dir).running(), f"{manifest['zipkin']}/zipkin/" if manifest.get("zipkin") else ""),
        Piece(METRICS, victoria.running, f"{victoria.url}/vmui/" if victoria.url else ""),
        Piece(MAIL, mail.running(), f"127.0.0.1:{mail.port}  (make mail)" if mail.port else ""),
    ]


def usury_caps_line(today: date, path: Path = USURY_CAPS_FILE) -> str:
    """Whether `shared/usury_caps.toml` holds the current quarter's caps, in one line."""
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    try:
        freshness = UsuryTable.load(path).freshness(today)
    except UsuryTableError as error:
        return f"{'usury caps':<14} cannot be read: {str(error).splitlines()[0]}"
    if freshness.out_of_date:
        return (
            f"{'usury caps':<14} out of date: newest quarter {day(freshness.newest)}, "
            f"current quarter {day(freshness.current_quarter)} — add it to {shown}"
        )
    return f"{'usury caps':<14} up to date (quarter of {day(freshness.current_quarter)})"


def render_status(pieces: list[Piece], usury_line: str) -> tuple[str, int]:
    """The report and the exit code: 0 when everything or nothing runs, 1 when only part of the platform does."""
    running = [piece for piece in pieces if piece.running]
    if not running:
        return f"{NOTHING_RUNNING}\n{usury_line}\n", 0
    lines = [f"{piece.name:<14} {'up  ' if piece.running else 'down'}  {piece.address}  {piece.detail}".rstrip() for piece in pieces]
    down = [piece.name for piece in pieces if not piece.running]
    if down:
        lines.append(f"down: {', '.join(down)} — `make down` then `make run` starts the platform again")
    lines.append(usury_line)
    return "\n".join(lines) + "\n", 1 if down else 0
