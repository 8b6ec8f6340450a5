"""Errors the pure domain raises; the HTTP layer turns them into problem documents."""

from __future__ import annotations


class BusinessRuleError(Exception):
    """A request that breaks a business rule (wrong state, inconsistent terms): HTTP 409 or 422."""

    def __init__(self, detail: str, *, field: str | None = None, rule: str = "business_rule", status: int = 409) -> None:
        super().__init__(detail)
        self.detail, self.field, self.rule, self.status = detail, field, rule, status
