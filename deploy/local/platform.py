"""Run the whole platform on this machine: `python -m deploy.local.platform {up,down,status,demo,trace,token}`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import date
from pathlib import Path

from deploy.local.directory_seed import seed as seed_directory
from deploy.local.identity import LocalIdentity, describe
from deploy.local.infra import DEFAULT_STATE_DIR, start_infra, stop_infra
from deploy.local.keycloak import LocalKeycloak
from deploy.local.haproxy import LocalHaproxy
from deploy.local.kafka import LocalKafka
from deploy.local.mail import LocalMail
from deploy.local.ports import choose_ports, find_free_ports
from deploy.local.privacy import ensure_kek, privacy_env
from deploy.local.services import (
    SERVICES, WEB, ServiceProcess, kafka_env, read_manifest, replicas_of, tracing_env, web_env, write_manifest,
)
from deploy.local.trace_view import render_trace
from deploy.local.zipkin import LocalZipkin, fetch_trace, zipkin_records
from deploy.local.status import KEYCLOAK, MAIL, METRICS, TRACES, platform_pieces, render_status, usury_caps_line
from deploy.local.victoria import LocalVictoria
from deploy.local.topics import ensure_topics
from shared.auth import Principal, Role

PREFERRED_PORTS = {"intake": 8001, "assessment": 8002, "servicing": 8003, "notifications": 8004, "directory": 8005, "privacy": 8006, WEB: 8000}
PREFERRED_ZIPKIN_PORT = 9411
PREFERRED_KEYCLOAK_PORT = 8180
PREFERRED_METRICS_PORT = 8428  # VictoriaMetrics' own default
# Where the web workspace answers by default (the realm's first import); `up` registers the port it really got.
WEB_BASE_URL = "http://127.0.0.1:8000"
# The realm's demo administrator puts the demo directory in place, as any administrator would.
DEMO_ADMIN = "adm-moreau"


def _manifest_path(state_dir: Path) -> Path:
    return state_dir / "run" / "platform.json"


def _replicas(name: str, count: int, ports: list[int], run_dir: Path, env: dict[str, str]) -> list[ServiceProcess]:
    """`count` processes of the service `name`, each on its own port."""
    return [ServiceProcess(name, port, run_dir, env=env, replica=k) for k, port in enumerate(ports[:count], start=1)]


def _start_all(processes: list[ServiceProcess]) -> None:
    """Start every process, then wait until each answers `/ready` (they start side by side)."""
    for proc in processes:
        proc.start()
    for proc in processes:
        proc.wait_ready()


def _running(manifest: dict[str, object], state_dir: Path) -> bool:
    """Whether every process the manifest names still runs."""
    services = manifest.get("services")
    if not isinstance(services, dict) or set(services) != {*SERVICES, WEB}:
        return False
    expected = int(manifest.get("replicas", 1))  # type: ignore[call-overload]
    return all(
        sum(p.pid() is not None for p in replicas_of(name, state_dir / "run")) == expected for name in (*SERVICES, WEB)
    )


def up(state_dir: Path, replicas: int = 1) -> dict[str, object]:
    """Provision Kafka and Postgres, start Zipkin, Keycloak, an SMTP server, `replicas` processes of each of the six
    services and of the workspace (HAProxy in front of them when more than one), VictoriaMetrics; return the manifest."""
    manifest = read_manifest(_manifest_path(state_dir))
    if manifest and _running(manifest, state_dir):
        running = int(manifest.get("replicas", 1))  # type: ignore[call-overload]
        change = f": `make down` first, then `make run REPLICAS={replicas}`" if running != replicas else ""
        print(f"platform already running, {running} replica(s) of each service{change}")
        return manifest
    print("starting Postgres and Kafka…", flush=True)
    bootstrap, dsn = start_infra(state_dir)
    kafka = LocalKafka(state_dir)
    asyncio.run(ensure_topics(bootstrap, kafka.login()))
    print(f"Kafka requires SASL/SCRAM-SHA-512: passwords in {kafka.credentials.path}, partner banks' client configs in "
          f"{kafka.partners_dir} (README, partner quick-start)", flush=True)
    choice = choose_ports(
        {**PREFERRED_PORTS, TRACES: PREFERRED_ZIPKIN_PORT, KEYCLOAK: PREFERRED_KEYCLOAK_PORT, METRICS: PREFERRED_METRICS_PORT}
    )
    for message in choice.messages():
        print(message, flush=True)
    # Zipkin starts while Keycloak does: both are Java servers that take seconds to answer.
    print("starting Zipkin and Keycloak (the first time: fetched, and Keycloak built, a minute or two)…", flush=True)
    zipkin_server = LocalZipkin(state_dir, port=choice.ports[TRACES])
    zipkin_server.start()
    keycloak = LocalKeycloak(state_dir, port=choice.ports[KEYCLOAK])
    issuer = keycloak.start(dsn, settings={"MC_WEB_BASE_URL": WEB_BASE_URL})
    zipkin = zipkin_server.wait_ready()
    run_dir = state_dir / "run"
    # One replica listens on the printed port itself; several listen on ports of their own, HAProxy on the printed one.
    spare = iter(find_free_ports(replicas * (len(SERVICES) + 1))) if replicas > 1 else None
    ports = {name: [next(spare) for _ in range(replicas)] if spare else [choice.ports[name]] for name in (*SERVICES, WEB)}
    fronted = {name: f"http://127.0.0.1:{choice.ports[name]}" for name in (*SERVICES, WEB)}
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": dsn, "OIDC_ISSUER": issuer, **tracing_env(zipkin)}
    kek = ensure_kek(state_dir)
    smtp_port = LocalMail(state_dir).start()  # notifications' e-mails land in .local/mail/maildir (`make mail`)
    smtp = {"notifications": {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)}}
    processes = [
        # each service logs in to Kafka as its own principal: it may do only what its ACLs say
        proc for name in SERVICES
        for proc in _replicas(
            name, replicas, ports[name], run_dir,
            {**env, **kafka_env(kafka.login(name)), **privacy_env(name, kek), **smtp.get(name, {})},
        )
    ]
    _start_all(processes)
    proxy = LocalHaproxy(state_dir)
    if replicas > 1:
        print(f"starting HAProxy in front of the {replicas} replicas of each service…", flush=True)
        backends = {name: (choice.ports[name], [f"http://127.0.0.1:{port}" for port in ports[name]]) for name in (*SERVICES, WEB)}
        proxy.start(backends, wait_for=SERVICES)  # the workspace starts below, on the services' fronted addresses
    print("putting the demo directory (deploy/directory/seed.json) through the directory's admin API…", flush=True)
    identity = LocalIdentity.of(keycloak)
    admin = asyncio.run(identity.headers(Principal(subject=DEMO_ADMIN, role=Role.ADMIN)))
    seed_directory(fronted["directory"], admin)
    web_settings = {
        **web_env(fronted, issuer=issuer, client_secret=identity.web_client_secret(), dsn=dsn, zipkin=zipkin),
        "PUBLIC_URL": fronted[WEB],
    }
    asyncio.run(identity.register_web(fronted[WEB]))
    webs = _replicas(WEB, replicas, ports[WEB], run_dir, web_settings)
    _start_all(webs)
    processes += webs
    if replicas > 1:
        proxy.wait_ready({WEB: fronted[WEB]})
    print("starting VictoriaMetrics, scraping each service's /metrics (the first time: built with Go, about a minute)…", flush=True)
    victoria = LocalVictoria(state_dir)
    # The six services expose /metrics, each replica its own; the web workspace does not.
    metrics_url = victoria.start(
        {name: [p.url for p in processes if p.name == name] for name in SERVICES}, port=choice.ports[METRICS]
    )
    manifest = {
        "kafka": bootstrap,
        "postgres": dsn,
        "zipkin": zipkin,
        "keycloak": {"url": keycloak.url, "issuer": issuer, "secrets_file": str(keycloak.secrets_file)},
        "replicas": replicas,
        "services": {
            name: {
                "url": fronted[name],
                "pid": group[0].pid(),
                "log": str(group[0].log_file),
                "replicas": [{"url": p.url, "pid": p.pid(), "log": str(p.log_file)} for p in group],
            }
            for name in (*SERVICES, WEB)
            for group in [[p for p in processes if p.name == name]]
        },
        "metrics": {"url": metrics_url, "ui": f"{metrics_url}/vmui/", "scrape_file": str(victoria.scrape_file)},
        "smtp": f"127.0.0.1:{smtp['notifications']['SMTP_PORT']}",
        "moved_ports": {name: list(pair) for name, pair in choice.moved.items()},
    }
    if replicas > 1:
        manifest["haproxy"] = {"config": str(proxy.config_file), "log": str(proxy.server.log_file)}
    write_manifest(_manifest_path(state_dir), manifest)
    return manifest


def down(state_dir: Path) -> None:
    """Stop VictoriaMetrics, the services, Zipkin, the SMTP server, Keycloak, Kafka and Postgres; nothing is left running."""
    LocalVictoria(state_dir).stop()
    LocalHaproxy(state_dir).stop()
    for name in (WEB, *SERVICES):
        for proc in replicas_of(name, state_dir / "run"):
            proc.stop()
    LocalZipkin(state_dir).stop()
    LocalMail(state_dir).stop()
    LocalKeycloak(state_dir).stop()  # before Postgres, which holds its database
    stop_infra(state_dir)
    _manifest_path(state_dir).unlink(missing_ok=True)


def status(state_dir: Path) -> int:
    """Print what runs and what is down, and whether the usury caps are current; the exit code."""
    pieces = platform_pieces(state_dir, read_manifest(_manifest_path(state_dir)))
    report, code = render_status(pieces, usury_caps_line(date.today()))
    print(report, end="")
    return code


def _moved_note(manifest: dict[str, object], name: str) -> str:
    """`  (8001 was taken)` when the process could not have its preferred port, else ''."""
    moved = manifest.get("moved_ports")
    return f"  ({moved[name][0]} was taken)" if isinstance(moved, dict) and name in moved else ""


def print_addresses(manifest: dict[str, object]) -> None:
    """What `make run` prints once everything answers: where each piece listens, and which ports were taken."""
    count = int(manifest.get("replicas", 1))  # type: ignore[call-overload]
    print("\nThe platform is up:" if count == 1 else f"\nThe platform is up, {count} replicas of each service behind HAProxy:")
    for name, info in manifest["services"].items():  # type: ignore[union-attr]
        what = "the workspace: open it in a browser, sign in as a demo person below" if name == WEB else f"OpenAPI: {info['url']}/docs"
        print(f"  {name:<14} {info['url']}   ({what}){_moved_note(manifest, name)}")
    print(f"  kafka          {manifest['kafka']}")
    print(f"  postgres       {manifest['postgres']}")
    print(f"  {TRACES:<14} {manifest['zipkin']}/zipkin/   (the traces: make demo, then make trace){_moved_note(manifest, TRACES)}")
    keycloak = manifest["keycloak"]
    print(f"  {KEYCLOAK:<14} {keycloak['url']}   (issuer {keycloak['issuer']}){_moved_note(manifest, KEYCLOAK)}")  # type: ignore[index]
    metrics = manifest.get("metrics")
    if isinstance(metrics, dict):
        print(
            f"  {METRICS:<14} {metrics['ui']}   (vmui: the Dashboards tab; the services scraped every 10 s){_moved_note(manifest, METRICS)}"
        )
    secrets_file = Path(str(keycloak["secrets_file"]))  # type: ignore[index]
    if secrets_file.is_file():
        print(f"\nThe demo people and their passwords (generated for this machine, kept in {secrets_file}):")
        print(describe(json.loads(secrets_file.read_text())))
        print("  (Keycloak's own administrator: admin / MC_KEYCLOAK_ADMIN_PASSWORD of that file, console at /admin/)")
    print(f"  {MAIL:<14} {manifest.get('smtp', '')}   (the e-mails notifications sends: make mail lists them)")
    print("\nNext: `make demo` walks one application to the counsellor's alert; `make down` stops everything.")


def _last_trace(state_dir: Path) -> str | None:
    last = state_dir / "run" / "last-trace-id"
    return last.read_text().strip() if last.is_file() else None


def show_trace(manifest: dict[str, object], trace_id: str | None) -> int:
    """Print a trace as a tree, from Zipkin, and its page in Zipkin's UI."""
    if not manifest.get("zipkin"):
        print("the platform is not running: start it with `make run`")
        return 1
    if not trace_id:
        print("no trace yet: `make demo` makes one (or give one: make trace TRACE=<id>)")
        return 1
    base = str(manifest["zipkin"])
    records = zipkin_records(fetch_trace(base, trace_id))
    if not records:
        print(f"Zipkin has no trace {trace_id} (yet: spans leave the services within a second)")
        return 1
    print(render_trace(records))
    print(f"\nin Zipkin: {base}/zipkin/traces/{trace_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    # No automatic -h: `token --help` must reach the token issuer's own parser, which lists its options.
    parser = argparse.ArgumentParser(prog="python -m deploy.local.platform", description=__doc__, add_help=False)
    parser.add_argument("-h", "--help", action="store_true", help="show this help message and exit")
    parser.add_argument("command", nargs="?", choices=["up", "down", "status", "demo", "trace", "logs", "token"])
    parser.add_argument("trace_id", nargs="?", help="for `trace` and `logs`: the trace id to show (default: the last demo's)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    parser.add_argument("--replicas", type=int, default=int(os.environ.get("REPLICAS") or 1),
                        help="for `up`: processes of each service (default 1, or REPLICAS)")
    args, rest = parser.parse_known_args(argv)
    state_dir: Path = args.state_dir.resolve()
    if args.command == "token":
        from deploy.local.token import main as token_main

        # An access token from the local Keycloak, e.g. `token --role ops --sub ops-durand`.
        return token_main([*rest, "--help"] if args.help else rest, state_dir)
    if args.help:
        parser.print_help()
        return 0
    if args.command is None:
        parser.error("a command is required: up, down, status, demo, trace, logs or token")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "up":
        if args.replicas < 1:
            parser.error("--replicas must be at least 1")
        try:
            manifest = up(state_dir, args.replicas)
        except BaseException:
            # Nothing half-started is left behind: a failed `make run` stops what it started.
            print("make run failed: stopping what was started", file=sys.stderr)
            down(state_dir)
            raise
        print_addresses(manifest)
    elif args.command == "down":
        down(state_dir)
        print("platform stopped")
    elif args.command == "status":
        return status(state_dir)
    elif args.command == "demo":
        from deploy.local.demo import run_demo

        return run_demo(
            read_manifest(_manifest_path(state_dir)), today=date.today(), identity=LocalIdentity.of_state_dir(state_dir),
            run_dir=state_dir / "run",
        )
    elif args.command == "trace":
        return show_trace(read_manifest(_manifest_path(state_dir)), args.trace_id or _last_trace(state_dir))
    elif args.command == "logs":
        from deploy.local.logs import show

        return show(state_dir / "run", args.trace_id or _last_trace(state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
