"""Keycloak (the OpenID Connect provider) on this machine, without Docker.

Its distribution comes from Maven Central and is built once (`deploy/local/keycloak_dist.py`); it is
started in production mode (`kc.sh start --optimized`) on loopback with its own database in the local
Postgres. Each state dir (the platform's, the tests') gets its own Keycloak home, a hard-linked copy of
the built distribution, so its `data/` is its own. The realm file of `deploy/keycloak/` is imported at
the first start; its passwords and client secrets are `${MC_PASSWORD_…}`/`${MC_SECRET_…}` placeholders
that Keycloak fills from the environment, generated once per state dir and kept there (mode 600), so
nothing in the repository lets anyone sign in anywhere. Readiness is the realm's OpenID Connect
discovery document answering, never a sleep.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from deploy.local import REPO_ROOT
from deploy.local.keycloak_dist import Distribution, KeycloakError, find_java_home
from deploy.local.ports import LOOPBACK, PortInUse, choose_port_pair, read_port_pair
from deploy.local.process import Detached, answers, run_blocking
from deploy.versions import pinned

KEYCLOAK_DEPLOY_DIR = REPO_ROOT / "deploy" / "keycloak"
REALM_FILE = KEYCLOAK_DEPLOY_DIR / "realm-microcredit.json"
REALM = "microcredit"
DEFAULT_START_TIMEOUT = 180.0
# Placeholders of the realm file this launcher generates: passwords and client secrets.
_SECRET_PLACEHOLDER = re.compile(r"\$\{(MC_(?:PASSWORD|SECRET)_[A-Z0-9_]+)\}")


@dataclass(frozen=True)
class KeycloakStatus:
    """Is the Keycloak process alive, its pid and the realm's issuer URL."""

    running: bool
    pid: int | None
    issuer: str | None


def _create_database(dsn: str, name: str, *, replace: bool = False) -> None:
    """Create database `name` on the server of `dsn` unless it exists (Keycloak's own tables live there).

    `replace`: drop it first — a database left by an earlier life of this state dir (a clone deleted and
    made again at the same path finds its old Postgres cluster) holds a realm whose passwords nobody knows."""

    async def create() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            if replace:
                await conn.execute(f'drop database if exists "{name}" with (force)')
            if not await conn.fetchval("select true from pg_database where datname = $1", name):
                await conn.execute(f'create database "{name}"')
        finally:
            await conn.close()

    run_blocking(create())


class LocalKeycloak:
    """A Keycloak server whose home, secrets and logs live under `state_dir/keycloak`."""

    def __init__(
        self, state_dir: Path, *, port: int | None = None, start_timeout: float = DEFAULT_START_TIMEOUT
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.base = self.state_dir / "keycloak"
        self.home = self.base / "home"
        self.secrets_file = self.base / "secrets.json"
        self.realm_stamp = self.base / "realm.sha256"  # the realm file this state dir's database was imported from
        self.ports_file = self.base / "ports.json"
        self.log_file = self.base / "keycloak.log"
        self.server = Detached("Keycloak", self.base / "keycloak.pid", self.log_file, marker=str(self.home))
        self.distribution = Distribution(pinned("keycloak"))
        self.requested_port = port
        self.start_timeout = start_timeout

    # ------------------------------------------------------------------ secrets

    def secrets(self) -> dict[str, str]:
        """Every `${MC_...}` value of the realm file, plus the bootstrap admin's password: made once, kept."""
        stored: dict[str, str] = {}
        if self.secrets_file.is_file():
            stored = json.loads(self.secrets_file.read_text())
        wanted = set(_SECRET_PLACEHOLDER.findall(REALM_FILE.read_text())) | {"MC_KEYCLOAK_ADMIN_PASSWORD"}
        missing = wanted - stored.keys()
        if missing:
            for name in missing:
                stored[name] = secrets.token_urlsafe(18)
            self.base.mkdir(parents=True, exist_ok=True)
            self.secrets_file.write_text(json.dumps(stored, indent=2, sort_keys=True))
            self.secrets_file.chmod(0o600)
        return stored

    # -------------------------------------------------------------------- ports

    def _read_ports(self) -> tuple[int, int] | None:
        return read_port_pair(self.ports_file, "management_port")

    def _choose_ports(self) -> tuple[int, int]:
        try:
            return choose_port_pair(self._read_ports(), self.requested_port)
        except PortInUse as taken:
            raise KeycloakError(f"port {taken.port} requested for Keycloak is already in use") from taken

    @property
    def url(self) -> str | None:
        """Keycloak's base URL, once a port was chosen."""
        saved = self._read_ports()
        return f"http://{LOOPBACK}:{saved[0]}" if saved else None

    @property
    def issuer(self) -> str | None:
        """The realm's issuer URL (what every access token's `iss` says)."""
        return f"{self.url}/realms/{REALM}" if self.url else None

    # ------------------------------------------------------------------ process

    def _prepare_home(self, java_home: Path) -> None:
        """This state dir's home: the built distribution hard-linked, its own data/ and the realm to import."""
        built = self.distribution.ensure(java_home)
        stamp = self.home / ".from"
        if not (stamp.is_file() and stamp.read_text() == self.distribution.fingerprint()):
            shutil.rmtree(self.home, ignore_errors=True)
            shutil.copytree(built, self.home, copy_function=os.link, ignore=shutil.ignore_patterns("data", ".built"))
            stamp.write_text(self.distribution.fingerprint())
        imports = self.home / "data" / "import"
        imports.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REALM_FILE, imports / REALM_FILE.name)

    def start(self, postgres_dsn: str, *, settings: dict[str, str] | None = None) -> str:
        """Start Keycloak (or reuse the running one) and return the realm's issuer URL once it answers."""
        deadline = time.monotonic() + self.start_timeout
        if self.server.live_pid() is not None and self.issuer is not None:
            self._wait(self.issuer, deadline)
            return self.issuer
        java_home = find_java_home()
        self._prepare_home(java_home)
        server, _, _ = postgres_dsn.rpartition("/")
        # New secrets, or a realm file changed since the import (a new role, a new person), mean a new realm: its
        # database is made again, so that the realm is imported as the file says (an import skips an existing realm).
        realm = hashlib.sha256(REALM_FILE.read_bytes()).hexdigest()
        stale = not self.realm_stamp.is_file() or self.realm_stamp.read_text() != realm
        _create_database(postgres_dsn, "keycloak", replace=not self.secrets_file.is_file() or stale)
        self.base.mkdir(parents=True, exist_ok=True)
        self.realm_stamp.write_text(realm)
        port, management = self._choose_ports()
        self.ports_file.write_text(json.dumps({"port": port, "management_port": management}))
        host, _, pg_port = server.rpartition("@")[2].partition(":")
        url = f"http://{LOOPBACK}:{port}"
        values = self.secrets()
        env = {
            **os.environ,
            **values,
            **(settings or {}),  # the realm's other placeholders, e.g. MC_WEB_BASE_URL
            "JAVA_HOME": str(java_home),
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m",
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": values["MC_KEYCLOAK_ADMIN_PASSWORD"],
        }
        command = [
            str(self.home / "bin" / "kc.sh"), "start", "--optimized", "--import-realm",
            "--http-enabled=true", f"--http-host={LOOPBACK}", f"--http-port={port}", f"--hostname={url}",
            f"--http-management-port={management}",
            f"--db-url=jdbc:postgresql://{host}:{pg_port}/keycloak", "--db-username=postgres", "--db-password=local",
        ]
        self.server.launch(command, env=env, cwd=self.home)
        issuer = f"{url}/realms/{REALM}"
        try:
            self._wait(issuer, deadline)
        except KeycloakError:
            self.stop()
            raise
        return issuer

    def _wait(self, issuer: str, deadline: float) -> None:
        discovery = f"{issuer}/.well-known/openid-configuration"
        self.server.wait_until(lambda: answers(discovery), deadline, discovery, KeycloakError)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop Keycloak's whole process group; no-op when it is down."""
        self.server.stop(timeout)

    def status(self) -> KeycloakStatus:
        """Whether the process is alive, its pid and the issuer."""
        pid = self.server.live_pid()
        return KeycloakStatus(running=pid is not None, pid=pid, issuer=self.issuer)
