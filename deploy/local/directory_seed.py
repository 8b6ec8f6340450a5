"""The local platform's directory (`deploy/directory/seed.json`), put through the directory's admin API; idempotent.

Networks and banks first, then the associations that name them, then the people of both: each `PUT` is
refused if what it names is not there yet. Putting the same seed again changes nothing (no new version,
no audit entry, no event).
"""

from __future__ import annotations

import json

import httpx

from deploy.local import REPO_ROOT

SEED = REPO_ROOT / "deploy" / "directory" / "seed.json"
ORDER = ("networks", "banks", "associations", "contacts")


def seed(base_url: str, headers: dict[str, str]) -> None:
    """PUT every entity of the seed to the directory at `base_url`, with an admin's `headers`; raises on a refusal."""
    entities = json.loads(SEED.read_text(encoding="utf-8"))
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for collection in ORDER:
            for entity_id, body in entities[collection].items():
                answer = client.put(f"/{collection}/{entity_id}", json=body)
                if answer.status_code not in (200, 201):
                    raise RuntimeError(f"the directory refused {collection}/{entity_id}: {answer.status_code} {answer.text}")
