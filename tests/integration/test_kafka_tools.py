"""Kafka's console consumer, run by deploy/local/kafka_tools.py from the broker's own jars, reads a record
produced on the real broker."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from deploy.local import REPO_ROOT
from deploy.local.kafka import LocalKafka
from tests.support import infra as support
from tests.support.infra import kafka_client

pytestmark = pytest.mark.integration


async def test_the_console_consumer_reads_a_record_from_the_broker(kafka: str) -> None:
    topic = f"test-kafka-tools-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(**kafka_client(kafka))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"type": "fr.microcredit.test.v1"}', key=b"loan-42")
    finally:
        await producer.stop()
    # The CLI as the README shows it: against the local broker of a state dir, found by itself; a broker
    # from the environment or Docker is named with --bootstrap-server, as with bin/kafka-console-consumer.sh.
    state_dir = support.local_state_dir()
    where = ["--state-dir", str(state_dir)] if LocalKafka(state_dir).status().address == kafka else []
    server = [] if where else ["--bootstrap-server", kafka]

    done = subprocess.run(
        [
            sys.executable, "-m", "deploy.local.kafka_tools", *where, "console-consumer", *server,
            "--topic", topic, "--from-beginning", "--max-messages", "1", "--timeout-ms", "30000",
            "--formatter-property", "print.key=true", "--formatter-property", "key.separator= | ",
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90, check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['loan-42 | {"type": "fr.microcredit.test.v1"}'], (done.stdout, done.stderr)
    assert "Processed a total of 1 messages" in done.stderr
