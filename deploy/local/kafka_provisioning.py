"""What the local Kafka broker needs before it starts: its jars (fetched once by Maven), its config, a formatted log dir."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from deploy.local import REPO_ROOT
from deploy.local.ports import LOOPBACK
from deploy.local.process import file_lock

ADMIN_PRINCIPAL = "admin"  # deploy/kafka_security.ADMIN (not imported: this module stays free of shared/)

KAFKA_DEPLOY_DIR = REPO_ROOT / "deploy" / "kafka"
POM_PATH = KAFKA_DEPLOY_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DEPLOY_DIR / "log4j2.properties"
# Shared by every state dir (platform and tests): the jars depend only on the pinned version.
DEFAULT_LIBS_DIR = REPO_ROOT / ".local" / "kafka" / "libs"
JARS_MARKER = ".kafka-jars"

class KafkaError(RuntimeError):
    """Raised when the local broker cannot be provisioned, started or stopped."""


def _jars_fingerprint(version: str) -> str:
    """Identify the wanted jar set: pinned version plus a hash of the POM (log4j bumps count too)."""
    digest = hashlib.sha256(POM_PATH.read_bytes()).hexdigest()[:16]
    return f"kafka.version={version}\npom.sha256={digest}\n"


def jars_ready(libs_dir: Path, version: str) -> bool:
    """Tell whether ``libs_dir`` already holds the jars for ``version``."""
    marker = libs_dir / JARS_MARKER
    return (
        marker.is_file()
        and marker.read_text() == _jars_fingerprint(version)
        and (libs_dir / f"kafka_2.13-{version}.jar").is_file()
    )


def ensure_jars(libs_dir: Path, version: str) -> Path:
    """Copy the broker's runtime jars into ``libs_dir`` with Maven unless already there; return the dir."""
    if jars_ready(libs_dir, version):
        return libs_dir  # offline-friendly: no Maven run at all
    # Platform and test sessions share the libs dir: serialise the (re)download.
    with file_lock(libs_dir.parent / ".libs.lock"):
        if jars_ready(libs_dir, version):
            return libs_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaError("Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka jars")
        # Jars of another version on the same classpath would clash: start from an empty dir.
        if libs_dir.exists():
            shutil.rmtree(libs_dir)
        libs_dir.mkdir(parents=True)
        # The version comes from deploy/versions.toml; the POM's own default is checked to match it.
        command = [
            mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM_PATH),
            "dependency:copy-dependencies", f"-Dkafka.libs.dir={libs_dir}", f"-Dkafka.version={version}",
        ]
        if os.environ.get("MC_MAVEN_OFFLINE") == "1":
            command.append("-o")  # only the local ~/.m2 repository
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KafkaError(
                f"Maven could not fetch the Kafka {version} jars (exit {done.returncode}):\n"
                f"{done.stdout[-4000:]}{done.stderr[-4000:]}"
            )
        # The marker is written last, so an interrupted download is retried next time.
        (libs_dir / JARS_MARKER).write_text(_jars_fingerprint(version))
    return libs_dir


def server_properties(data_dir: Path, port: int, controller_port: int, admin_password: str) -> str:
    """Render server.properties for a single-node broker+controller on the loopback interface.

    Clients authenticate with SASL/SCRAM-SHA-512 and KRaft's StandardAuthorizer denies what no ACL grants
    (deploy/kafka_security/ declares them). The controller listener stays PLAINTEXT on 127.0.0.1: the broker
    reaches its own controller there as `User:ANONYMOUS`, which must then be a super user (SCRAM credentials
    live in the metadata log, so the controller cannot check them before it has read it). No client is ever
    ANONYMOUS on the client listener, which accepts SASL only.
    """
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN_PRINCIPAL}" password="{admin_password}";'
    )
    settings: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": 1,
        # A static voter set needs no '--standalone' when formatting.
        "controller.quorum.voters": f"1@{LOOPBACK}:{controller_port}",
        "listeners": f"SASL_PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"SASL_PLAINTEXT://{LOOPBACK}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": jaas,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN_PRINCIPAL};User:ANONYMOUS",
        "log.dirs": data_dir,
        # Topics appear on first use (by a principal allowed to create them: the admin), with several
        # partitions so keyed ordering is exercised.
        "auto.create.topics.enable": "true",
        "num.partitions": 3,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        # One node: internal topics cannot have more than one replica. Fewer partitions than
        # the defaults (50) make the first group join and first transaction much faster.
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 5,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 5,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        # Consumers of a fresh group get their partitions at once instead of after 3 s.
        "group.initial.rebalance.delay.ms": 0,
        # The cleaner allocates this buffer at start-up (128 MiB by default): keep the heap small.
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        # A 2-core dev box: fewer threads start faster and compete less with the services.
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "background.threads": 4,
    }
    lines = ["# Written by deploy/local/kafka.py at every start; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def java_executable() -> str:
    """Return the java executable: $JAVA_HOME/bin/java if set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaError("no 'java' on PATH (Kafka 4.x needs Java 17 or newer)")
    return found


def classpath(libs_dir: Path) -> str:
    """Return the JVM classpath: every jar of the libs dir, as the official scripts do."""
    return f"{libs_dir}/*"


def _new_cluster_id() -> str:
    """Return a random Kafka cluster id (URL-safe base64 of a UUID, as ``kafka-storage random-uuid``)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        # Kafka's own generator avoids ids starting with '-' (they look like CLI flags).
        if not cluster_id.startswith("-"):
            return cluster_id


SCRAM_MARKER = ".scram-admin"  # beside the data dir: it was formatted with the admin's SCRAM credentials


def format_storage(libs_dir: Path, config_file: Path, data_dir: Path, logs_dir: Path, admin_password: str) -> None:
    """Format the KRaft log dir once, with the admin's SCRAM user; an already formatted dir keeps its topics and offsets.

    A dir formatted before the broker required authentication has no admin user: nobody could log in, so it
    is formatted again (its topics and offsets are lost; the services' state is in Postgres).
    """
    if (data_dir / "meta.properties").is_file():
        if (data_dir.parent / f"{data_dir.name}{SCRAM_MARKER}").is_file():
            return
        print(f"{data_dir} was formatted without SCRAM users: formatting it again (Kafka's local data is lost)", flush=True)
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        java_executable(), "-Xmx256m", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dkafka.logs.dir={logs_dir}", "-cp", classpath(libs_dir),
        "kafka.tools.StorageTool", "format", "-t", _new_cluster_id(), "-c", str(config_file),
        # The only user that exists before the broker runs: the others are created through it (deploy/kafka_security/).
        "--add-scram", f"SCRAM-SHA-512=[name={ADMIN_PRINCIPAL},password={admin_password}]",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise KafkaError(f"formatting {data_dir} failed:\n{done.stdout}{done.stderr}")
    (data_dir.parent / f"{data_dir.name}{SCRAM_MARKER}").write_text(f"{ADMIN_PRINCIPAL}\n")
