"""Docker-free provisioning of a real Kafka broker and a real Postgres server on this machine."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
