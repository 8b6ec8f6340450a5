"""When a failed e-mail or webhook delivery is tried again (pure)."""

from __future__ import annotations

from datetime import timedelta


def retry_delay(attempt: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """Exponential backoff after failed attempt number `attempt` (1-based): base, 2×base, 4×base… capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempt - 1)))
