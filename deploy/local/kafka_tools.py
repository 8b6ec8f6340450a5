"""Kafka's own command-line tools against the local broker, from the jars it runs on (no `bin/` needed).

    python -m deploy.local.kafka_tools console-consumer --topic microcredit.loans.v1 --from-beginning
    python -m deploy.local.kafka_tools topics --list
    python -m deploy.local.kafka_tools consumer-groups --describe --all-groups

Each tool is the class the distribution's `bin/kafka-<tool>.sh` runs, with the same arguments (`--help`
lists them). `--bootstrap-server` defaults to the running local broker (`.local`, or `--state-dir`), and
`--command-config` to its admin's client config (the broker requires SASL/SCRAM-SHA-512): give a partner's
`.local/kafka/partners/<bank>.properties` to see what that bank sees.
The jars are the broker's (`deploy/kafka/pom.xml`, `kafka-tools` among them), fetched once by Maven.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.local import REPO_ROOT
from deploy.local.kafka import LocalKafka
from deploy.local.kafka_provisioning import DEFAULT_LIBS_DIR, KafkaError, classpath, ensure_jars, java_executable
from deploy.versions import pinned

# bin/kafka-<tool>.sh → its main class (Kafka 4.x).
TOOLS = {
    "console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "topics": "org.apache.kafka.tools.TopicCommand",
    "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "get-offsets": "org.apache.kafka.tools.GetOffsetShell",
}
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
# The tools' own logging: warnings only, on stderr (records go to stdout).
LOG4J_CONFIG = REPO_ROOT / "deploy" / "kafka" / "tools-log4j2.properties"


def command(tool: str, args: Sequence[str], *, bootstrap: str, libs_dir: Path = DEFAULT_LIBS_DIR) -> list[str]:
    """The java command line that runs `tool` with `args` against `bootstrap`."""
    if tool not in TOOLS:
        raise KafkaError(f"unknown tool {tool!r}: one of {', '.join(TOOLS)}")
    ensure_jars(libs_dir, pinned("kafka"))
    args = list(args)
    if "--bootstrap-server" not in args and not any(a.startswith("--bootstrap-server=") for a in args):
        args = ["--bootstrap-server", bootstrap, *args]
    return [
        java_executable(), "-Xmx256m", "-XX:TieredStopAtLevel=1", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-cp", classpath(libs_dir), TOOLS[tool], *args,
    ]


def local_bootstrap(state_dir: Path = DEFAULT_STATE_DIR) -> str:
    """The running local broker's address; fails when it is not running."""
    status = LocalKafka(state_dir).status()
    if not status.running or not status.address:
        raise KafkaError(f"no local Kafka broker runs under {state_dir} (make run, or python -m deploy.local.infra start)")
    return status.address


CONFIG_OPTIONS = ("--command-config", "--consumer.config", "--producer.config")


def _given(args: Sequence[str], options: Sequence[str]) -> bool:
    return any(a in options or a.startswith(tuple(f"{o}=" for o in options)) for a in args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    state_dir = DEFAULT_STATE_DIR
    if argv[:1] == ["--state-dir"] and len(argv) >= 2:
        state_dir, argv = Path(argv[1]), argv[2:]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in TOOLS:
        print(__doc__.strip(), file=sys.stderr)
        print(f"\ntools: {', '.join(TOOLS)}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    tool, args = argv[0], argv[1:]
    try:
        given = _given(args, ("--bootstrap-server",))
        bootstrap = "" if given else local_bootstrap(state_dir)
        if not given and not _given(args, CONFIG_OPTIONS):
            args = [*args, "--command-config", str(LocalKafka(state_dir).admin_properties)]
        java = command(tool, args, bootstrap=bootstrap)
    except KafkaError as exc:
        print(exc, file=sys.stderr)
        return 1
    sys.stdout.flush()
    os.execv(java[0], java)  # the tool owns the terminal: Ctrl-C stops it as it stops bin/kafka-*.sh
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
