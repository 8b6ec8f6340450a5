"""`python -m deploy.compose_env > .env`: the secrets docker-compose.yml needs, generated for this machine.

Every `${MC_PASSWORD_…}` and `${MC_SECRET_…}` placeholder of the realm file, Keycloak's administrator
password, each Kafka principal's SCRAM password (`MC_KAFKA_PASSWORD_<PRINCIPAL>`, deploy/kafka_security/) and the
key-encryption key of the applicants' data keys (`MC_PRIVACY_KEK`);
`.env` is git-ignored, so nothing in the repository lets anyone sign in to a deployment.
"""

from __future__ import annotations

import base64
import re
import secrets
import sys

from deploy import kafka_security
from deploy.local.keycloak import REALM_FILE

PLACEHOLDER = re.compile(r"\$\{(MC_(?:PASSWORD|SECRET)_[A-Z0-9_]+)\}")


def lines() -> list[str]:
    """`NAME=value` for every secret the compose platform reads."""
    kafka = {kafka_security.password_variable(p) for p in kafka_security.principals(kafka_security.seed_banks())}
    names = sorted({*PLACEHOLDER.findall(REALM_FILE.read_text()), "MC_KEYCLOAK_ADMIN_PASSWORD", *kafka})
    # The key-encryption key of the applicants' data keys (shared/privacy/keyring.py): 32 random bytes, base64.
    kek = f"MC_PRIVACY_KEK={base64.b64encode(secrets.token_bytes(32)).decode()}"
    return [f"{name}={secrets.token_urlsafe(18)}" for name in names] + [kek, "MC_WEB_BASE_URL=http://localhost:8000"]


if __name__ == "__main__":
    sys.stdout.write("\n".join(lines()) + "\n")
