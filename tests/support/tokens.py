"""Bearer tokens for tests: realistic principals signed with the test secret."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.auth import Principal, Role, issue_token

TEST_JWT_SECRET = "test-secret-for-microcredit-platform-0123456789"  # ≥ 32 bytes, as HS256 wants


def bearer(principal: Principal) -> dict[str, str]:
    """The Authorization header of `principal`."""
    return {"Authorization": f"Bearer {issue_token(principal, TEST_JWT_SECRET, now=datetime.now(UTC))}"}


def counsellor(sub: str = "c-lefebvre", association: str = "secours-catholique", region: str = "hauts-de-france") -> Principal:
    """A counsellor of an association."""
    return Principal(subject=sub, role=Role.COUNSELLOR, association_id=association, region=region)


def supervisor(sub: str = "s-marchand", association: str = "secours-catholique", region: str = "hauts-de-france") -> Principal:
    """A supervisor of an association."""
    return Principal(subject=sub, role=Role.SUPERVISOR, association_id=association, region=region)


def bank(bank_id: str = "credit-mutuel-nord") -> Principal:
    """A partner bank's system."""
    return Principal(subject=f"svc-{bank_id}", role=Role.BANK, bank_id=bank_id)


def ops(sub: str = "ops-durand") -> Principal:
    """Someone of the ops team."""
    return Principal(subject=sub, role=Role.OPS)


def admin(sub: str = "adm-moreau") -> Principal:
    """An administrator of the directory."""
    return Principal(subject=sub, role=Role.ADMIN)
