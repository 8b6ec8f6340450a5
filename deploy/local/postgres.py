"""Local PostgreSQL cluster (initdb + pg_ctl) for development and tests, without Docker."""

from __future__ import annotations

import hashlib
import os
import stat
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.local.ports import LOOPBACK, find_free_port, is_port_free
from deploy.local.process import cmdline, group_pids, pid_alive, tail
from deploy.versions import pinned

DEFAULT_START_TIMEOUT = 60.0
# Dev-box settings; fsync stays on by default so timings resemble production.
DEFAULT_SETTINGS: Mapping[str, str] = {
    "max_connections": "200",
    "shared_buffers": "256MB",
    # Anyone on the machine may use the socket: trust auth is the point of a throwaway cluster.
    "unix_socket_permissions": "0777",
}
# sockaddr_un.sun_path holds 108 bytes, including ".s.PGSQL.<port>" and the final NUL.
_MAX_SOCKET_DIR_LEN = 80


class PostgresError(RuntimeError):
    """Raised when the local Postgres cluster cannot be initialised, started or stopped."""


@dataclass(frozen=True)
class PostgresStatus:
    """What ``LocalPostgres.status()`` reports: is the postmaster alive, its pid and the DSN."""

    running: bool
    pid: int | None
    dsn: str | None


def postgres_bin_dir() -> Path:
    """Locate the Postgres server binaries: $PG_BIN, else Debian's of the pinned version, else ``pg_config --bindir``."""
    if env := os.environ.get("PG_BIN"):
        return Path(env)
    # deploy/versions.toml pins the major version; Debian installs each major side by side.
    debian = Path(f"/usr/lib/postgresql/{pinned('postgres')}/bin")
    if (debian / "initdb").is_file():
        return debian
    if pg_config := shutil.which("pg_config"):
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(done.stdout.strip())
        # pg_config may come from a client-only package: only trust it if initdb is beside it.
        if done.returncode == 0 and (candidate / "initdb").is_file():
            return candidate
    return debian


def dsn_for(port: int, user: str = "postgres", database: str = "postgres") -> str:
    """Return the libpq/asyncpg URL of a local trust-auth cluster on ``port``."""
    return f"postgresql://{user}@{LOOPBACK}:{port}/{database}"


def _traversable_by_others(path: Path) -> bool:
    """Tell whether every existing ancestor of ``path`` lets other users through (o+x)."""
    for directory in (path, *path.parents):
        if directory.exists() and not directory.stat().st_mode & stat.S_IXOTH:
            return False
    return True


class LocalPostgres:
    """A Postgres cluster whose data, socket and log live under ``state_dir/postgres``."""

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        *,
        bin_dir: Path | None = None,
        os_user: str | None = None,
        settings: Mapping[str, str] | None = None,
        fsync: bool = True,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        """Describe the cluster; nothing is created or started until ``start()``."""
        self.state_dir = Path(state_dir).resolve()
        # initdb and pg_ctl refuse to run as root: then the cluster belongs to 'postgres'.
        self.os_user = os_user if os_user is not None else ("postgres" if os.geteuid() == 0 else None)
        self.home = self.state_dir / "postgres"
        if self.os_user is not None and not _traversable_by_others(self.state_dir):
            # e.g. a clone under /root (mode 700): the cluster's user could not reach its own files.
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
            self.home = Path(tempfile.gettempdir()) / f"mc-pg-home-{digest}"
        self.data_dir = self.home / "data"
        self.log_file = self.home / "postgres.log"
        self.port_file = self.home / "port"
        self.requested_port = port
        self.bin_dir = Path(bin_dir) if bin_dir is not None else postgres_bin_dir()
        self.settings = {**DEFAULT_SETTINGS, **(settings or {}), "fsync": "on" if fsync else "off"}
        self.start_timeout = start_timeout

    # --------------------------------------------------------------- helpers

    @property
    def socket_dir(self) -> Path:
        """Return the Unix socket directory (short enough for sun_path, else a stable one in /tmp)."""
        preferred = self.home / "run"
        if len(str(preferred)) <= _MAX_SOCKET_DIR_LEN:
            return preferred
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"mc-pg-{digest}"

    def _bin(self, name: str) -> str:
        """Return the path of a Postgres executable, with a clear error when it is missing."""
        path = self.bin_dir / name
        if not path.is_file():
            raise PostgresError(f"{path} not found: install PostgreSQL or set PG_BIN to its bin directory")
        return str(path)

    def _run(self, argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Postgres tool as the cluster's OS user and capture its output."""
        command = list(argv)
        if self.os_user is not None and pwd.getpwuid(os.geteuid()).pw_name != self.os_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if check and done.returncode != 0:
            raise PostgresError(
                f"{shlex.join(command)} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"
                f"--- last lines of {self.log_file} ---\n{tail(self.log_file, 30)}"
            )
        return done

    def _own(self, *paths: Path) -> None:
        """Give ``paths`` to the cluster's OS user (needed when we run as root)."""
        if self.os_user is None:
            return
        try:
            entry = pwd.getpwnam(self.os_user)
        except KeyError:
            raise PostgresError(f"OS user {self.os_user!r} does not exist (needed to run Postgres as root)") from None
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _postmaster_info(self) -> tuple[int, int] | None:
        """Return (pid, port) from postmaster.pid when that postmaster is alive."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, PermissionError, IndexError, ValueError):
            return None
        # A stale file after a crash may name a pid now reused by another program.
        argv = cmdline(pid)
        if not pid_alive(pid) or not argv or Path(argv[0]).name not in ("postgres", "postmaster"):
            return None
        return pid, port

    def _read_port(self) -> int | None:
        """Return the port remembered from the previous start, if any."""
        try:
            return int(self.port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _choose_port(self) -> int:
        """Pick the port: requested, else the remembered one if still free, else a new free one."""
        if self.requested_port is not None:
            if not is_port_free(self.requested_port):
                raise PostgresError(f"port {self.requested_port} requested for Postgres is already in use")
            return self.requested_port
        saved = self._read_port()
        return saved if saved is not None and is_port_free(saved) else find_free_port()

    def initialised(self) -> bool:
        """Tell whether initdb has already created the cluster."""
        return (self.data_dir / "PG_VERSION").is_file()

    def _initdb(self) -> None:
        """Create the cluster once (trust auth, UTF8, C locale); later starts reuse it."""
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._own(self.data_dir)
        self._run([
            self._bin("initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C",
        ])

    # ------------------------------------------------------------------- API

    @property
    def dsn(self) -> str | None:
        """Return the DSN of the running cluster, else of the last start (None if never started)."""
        info = self._postmaster_info()
        port = info[1] if info else self._read_port()
        return dsn_for(port) if port is not None else None

    def start(self) -> str:
        """Initialise the cluster if needed, start it (or reuse the running one) and return its DSN."""
        info = self._postmaster_info()
        if info is not None:
            if self.requested_port is not None and info[1] != self.requested_port:
                raise PostgresError(f"Postgres already running on port {info[1]}, not on the requested port")
            return dsn_for(info[1])

        self.home.mkdir(parents=True, exist_ok=True)
        self._own(self.home)  # the server writes its log file here
        if not self.initialised():
            self._initdb()
        socket_dir = self.socket_dir
        socket_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._own(socket_dir)
        port = self._choose_port()
        options = [
            "-p", str(port), "-k", str(socket_dir), "-c", f"listen_addresses={LOOPBACK}",
            *[arg for key, value in self.settings.items() for arg in ("-c", f"{key}={value}")],
        ]
        # pg_ctl -w returns once the server accepts connections (or fails): no sleeping here.
        self._run([
            self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
            "-t", str(int(self.start_timeout)), "-o", shlex.join(options), "start",
        ])
        self.port_file.write_text(f"{port}\n")
        return dsn_for(port)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the cluster with a fast shutdown (rolls back open transactions); no-op if down."""
        info = self._postmaster_info()
        if info is None:
            return
        self._run([
            self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
            "-t", str(int(timeout)), "stop",
        ])
        # pg_ctl puts the postmaster in its own session: its group holds every backend.
        if group_pids(info[0]):
            raise PostgresError(f"Postgres processes {group_pids(info[0])} still alive after stop")

    def status(self) -> PostgresStatus:
        """Report whether the postmaster is alive, its pid and the DSN."""
        info = self._postmaster_info()
        return PostgresStatus(running=info is not None, pid=info[0] if info else None, dsn=self.dsn)
