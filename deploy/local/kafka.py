"""Single-node KRaft Kafka broker run from Maven-fetched jars, without Docker: start, wait until it answers, stop."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.local.kafka_provisioning import (
    DEFAULT_LIBS_DIR,
    LOG4J_CONFIG,
    SCRAM_MARKER,
    KafkaError,
    classpath,
    ensure_jars,
    format_storage,
    java_executable,
    server_properties,
)
from deploy.local import REPO_ROOT
from deploy.local.ports import LOOPBACK, PortInUse, choose_port_pair, is_port_open, read_port_pair
from deploy.local.process import cmdline, pid_alive, reap, run_blocking, tail, terminate_group
from deploy.versions import pinned
from deploy import kafka_security
from deploy.kafka_security.broker import provision
from shared.kafka_auth import KafkaLogin, aiokafka_options

# Readiness is polled: a healthy broker answers in seconds. The cap is for a JVM booting beside others (the
# test session's Keycloak and Zipkin) on two busy cores, where 60 s once ran out; a broker that dies is seen at once.
DEFAULT_START_TIMEOUT = 120.0



@dataclass(frozen=True)
class KafkaStatus:
    """What ``LocalKafka.status()`` reports: is the broker process alive, its pid and address."""

    running: bool
    pid: int | None
    address: str | None


async def _metadata_answers(bootstrap: str, timeout: float, login: KafkaLogin | None) -> bool:
    """Send one Metadata request through aiokafka and tell whether a live broker is listed."""
    # Imported here: importing this module must not pull in aiokafka (the CLI's status does not need it).
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import KafkaError as AioKafkaError

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000), **aiokafka_options(login))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        # A KRaft broker that is still fenced answers with an empty broker list.
        return len(client.cluster.brokers()) > 0
    except (AioKafkaError, OSError, TimeoutError):
        return False
    finally:
        await client.close()


def metadata_answers(bootstrap: str, timeout: float = 5.0, login: KafkaLogin | None = None) -> bool:
    """Tell whether the broker at ``bootstrap`` answers a Metadata request (as ``login``) with at least one broker."""
    host, _, port = bootstrap.rpartition(":")
    # A plain TCP check first keeps aiokafka from logging an ERROR for every refused connection.
    if not is_port_open(int(port), host or LOOPBACK, timeout=min(timeout, 1.0)):
        return False
    return run_blocking(_metadata_answers(bootstrap, timeout, login))


class LocalKafka:
    """A single-node Kafka broker (broker + controller, KRaft) whose files live under ``state_dir/kafka``."""

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        *,
        libs_dir: Path | None = None,
        heap: str = "512m",
        start_timeout: float = DEFAULT_START_TIMEOUT,
        banks: tuple[str, ...] | None = None,
    ) -> None:
        """Describe the broker; nothing is started or written until ``start()``.

        Its principals are the platform's and those of ``banks`` (by default the directory seed's partner banks).
        """
        self.state_dir = Path(state_dir).resolve()
        self.home = self.state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.logs_dir = self.home / "logs"
        self.config_file = self.home / "server.properties"
        self.log_file = self.home / "broker.log"
        self.pid_file = self.home / "broker.pid"
        self.ports_file = self.home / "ports.json"
        # Git-ignored (.local): the principals' passwords, an admin client config, one client config per bank.
        self.credentials = kafka_security.Credentials(self.home / "credentials.json")
        self.admin_properties = self.home / "admin.properties"
        self.partners_dir = self.home / "partners"
        self._banks = banks
        self.libs_dir = Path(libs_dir).resolve() if libs_dir is not None else DEFAULT_LIBS_DIR
        self.requested_port = port
        self.heap = heap
        self.start_timeout = start_timeout
        self.version = pinned("kafka")
        self._proc: subprocess.Popen[bytes] | None = None

    # --------------------------------------------------------------- helpers

    def _read_pid(self) -> int | None:
        """Return the pid recorded in the pid file, if any."""
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _live_pid(self) -> int | None:
        """Return the recorded pid if that process is alive and is this state dir's broker."""
        pid = self._read_pid()
        if pid is None or not pid_alive(pid):
            return None
        # Guard against pid reuse: the process must be a broker started with our config file.
        argv = cmdline(pid)
        if "kafka.Kafka" not in argv or str(self.config_file) not in argv:
            return None
        return pid

    def _read_ports(self) -> tuple[int, int] | None:
        """Return the remembered (broker, controller) ports, if any."""
        return read_port_pair(self.ports_file, "controller_port")

    def _choose_ports(self) -> tuple[int, int]:
        """Pick the broker and controller ports: requested, else remembered if still free, else new free ones."""
        try:
            return choose_port_pair(self._read_ports(), self.requested_port)
        except PortInUse as taken:
            raise KafkaError(f"port {taken.port} requested for Kafka is already in use") from taken

    def _failure(self, message: str) -> KafkaError:
        """Build an error carrying the tails of the broker's console log (WARN+, JVM errors) and INFO log."""
        server_log = self.logs_dir / "server.log"
        return KafkaError(
            f"{message}\n--- last lines of {self.log_file} ---\n{tail(self.log_file, 25)}"
            f"--- last lines of {server_log} ---\n{tail(server_log, 15)}"
        )

    def banks(self) -> tuple[str, ...]:
        """The partner banks that have a principal: the seed's (or those given) and those ops added since."""
        given = self._banks if self._banks is not None else kafka_security.seed_banks()
        added = [n.removeprefix(kafka_security.BANK_PRINCIPAL_PREFIX) for n in self.credentials.read()
                 if n.startswith(kafka_security.BANK_PRINCIPAL_PREFIX)]
        return tuple(sorted({*given, *added}))

    def login(self, principal: str = kafka_security.ADMIN) -> KafkaLogin:
        """The credentials of one of the broker's principals (the admin by default)."""
        return self.credentials.login(principal)

    def _secure(self, address: str) -> None:
        """Create the users, apply the ACLs, create the banks' topics and write the client configs; idempotent."""
        from deploy.local.process import run_blocking
        from deploy.local.topics import ensure_partner_topics

        banks = self.banks()
        try:
            provision(address, self.credentials, banks)
            run_blocking(ensure_partner_topics(address, self.login(), banks))
        except Exception as exc:  # the broker's refusal, or aiokafka's error: either way the broker is not usable
            raise self._failure(f"provisioning the users and ACLs of the broker at {address} failed: {exc}") from exc
        kafka_security.write_private(self.admin_properties, self.login().java_properties(address))
        for bank in banks:
            kafka_security.partner_properties(self.credentials, bank, address, self.partners_dir)

    def add_bank(self, bank_id: str, address: str) -> Path:
        """Give a new partner bank its user, topics and ACLs on the running broker; return its client config."""
        kafka_security.bank_principal(bank_id)  # refuses an id that cannot name a topic
        self.credentials.ensure([kafka_security.bank_principal(bank_id)])
        self._secure(address)
        return self.partners_dir / f"{bank_id}.properties"

    def _wait_until_answering(self, pid: int, address: str, deadline: float) -> None:
        """Poll with Metadata requests until the broker answers, it dies, or ``deadline`` passes."""
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise self._failure(f"Kafka broker (pid {pid}) exited with code {self._proc.returncode}")
            if not pid_alive(pid):
                raise self._failure(f"Kafka broker (pid {pid}) died during start-up")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failure(
                    f"Kafka broker (pid {pid}) did not answer a Metadata request on {address} "
                    f"within {self.start_timeout:g} s"
                )
            if metadata_answers(address, timeout=min(5.0, max(remaining, 0.5)), login=self.login()):
                return
            time.sleep(0.2)

    # ------------------------------------------------------------------- API

    @property
    def address(self) -> str | None:
        """Return the remembered bootstrap address ("127.0.0.1:<port>"), if a port was ever chosen."""
        saved = self._read_ports()
        return f"{LOOPBACK}:{saved[0]}" if saved else None

    def start(self) -> str:
        """Start the broker (or reuse the running one) and return its bootstrap address once it answers."""
        deadline = time.monotonic() + self.start_timeout
        pid = self._live_pid()
        if pid is not None:
            address = self.address
            if address is None:
                raise KafkaError(f"broker pid {pid} is running but {self.ports_file} is missing")
            if self.requested_port is not None and address != f"{LOOPBACK}:{self.requested_port}":
                raise KafkaError(f"broker already running on {address}, not on the requested port")
            # Maybe another process is still starting it: wait for it like for our own.
            self._wait_until_answering(pid, address, deadline)
            self._secure(address)
            return address

        ensure_jars(self.libs_dir, self.version)
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        port, controller_port = self._choose_ports()
        if kafka_security.ADMIN not in self.credentials.read():
            # No admin password known: whatever the data dir holds, nobody could log in to it.
            (self.home / f"{self.data_dir.name}{SCRAM_MARKER}").unlink(missing_ok=True)
        admin_password = self.credentials.ensure([kafka_security.ADMIN])[kafka_security.ADMIN]
        # The config carries the admin's password (the broker's own login): readable by its owner only.
        kafka_security.write_private(self.config_file, server_properties(self.data_dir, port, controller_port, admin_password))
        self.ports_file.write_text(json.dumps({"port": port, "controller_port": controller_port}))
        format_storage(self.libs_dir, self.config_file, self.data_dir, self.logs_dir, admin_password)

        # Keep the previous run's console log for one more start, for post-mortems.
        if self.log_file.exists():
            self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))
        command = [
            java_executable(), "-Xms256m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp", classpath(self.libs_dir), "kafka.Kafka", str(self.config_file),
        ]
        with self.log_file.open("wb") as log:
            # Own session and process group: the broker outlives the CLI that started it, is not
            # hit by the terminal's Ctrl-C, and stop() can signal everything it spawned at once.
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.home, start_new_session=True, close_fds=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        address = f"{LOOPBACK}:{port}"
        try:
            self._wait_until_answering(self._proc.pid, address, deadline)
            self._secure(address)
        except KafkaError:
            self.stop()  # never leave a half-started broker behind
            raise
        return address

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker's whole process group (SIGTERM, then SIGKILL after ``timeout`` s); no-op if down."""
        pid = self._live_pid()
        if pid is not None:
            terminate_group(pid, timeout)
        if self._proc is not None:
            self._proc.wait()  # reap our child so no zombie stays behind
            self._proc = None
        elif pid is not None:
            reap(pid)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> KafkaStatus:
        """Report whether the broker process is alive (not whether it answers), its pid and address."""
        pid = self._live_pid()
        return KafkaStatus(running=pid is not None, pid=pid, address=self.address)


def local_login(state_dir: Path | None = None, principal: str = kafka_security.ADMIN) -> KafkaLogin:
    """A principal's login on the local broker of `state_dir` (`$MC_STATE_DIR`, else `.local`): the admin by default."""
    if state_dir is None:
        state_dir = Path(os.environ.get("MC_STATE_DIR", REPO_ROOT / ".local"))
    return LocalKafka(state_dir).login(principal)


def local_client(bootstrap: str, state_dir: Path | None = None) -> dict[str, object]:
    """aiokafka's connection arguments for the local broker, as its admin (ops tools, demo, benchmarks)."""
    return {"bootstrap_servers": bootstrap, **local_login(state_dir).aiokafka()}
