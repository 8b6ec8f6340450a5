"""Who is calling: access tokens from the identity provider (Keycloak), turned into a principal.

A service never signs a token: it verifies the provider's (`shared/oidc.py`) and reads the claims the
realm's mappers put there — `role`, `association_id`, `region`, `bank_id` — and the person's username
(`preferred_username`), which the platform uses as their id (`c-lefebvre`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import BusinessRuleError
from shared.oidc import TokenRefused

# The audience every access token of the platform carries (the realm's `microcredit` client scope).
AUDIENCE = "microcredit-platform"


class Role(StrEnum):
    """Who is calling."""

    COUNSELLOR = "counsellor"
    SUPERVISOR = "supervisor"
    BANK = "bank"
    OPS = "ops"
    ADMIN = "admin"
    DPO = "dpo"  # the data protection officer (délégué à la protection des données): people's rights


# Counsellors and supervisors: the people of an association, who see its files and only its files.
ASSOCIATION_STAFF: frozenset[Role] = frozenset({Role.COUNSELLOR, Role.SUPERVISOR})


class Principal(BaseModel):
    """The authenticated caller, from the token's claims."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(min_length=1, description="The person or system (`sub`).")
    role: Role
    association_id: str | None = Field(None, description="Counsellors and supervisors: their association.")
    region: str | None = None
    bank_id: str | None = Field(None, description="Banks: their bank id.")

    @model_validator(mode="after")
    def _scoped(self) -> Principal:
        if self.role in ASSOCIATION_STAFF and not self.association_id:
            raise ValueError(f"a {self.role.value} token must name an association")
        if self.role is Role.BANK and not self.bank_id:
            raise ValueError("a bank token must name a bank")
        return self

    def is_member_of(self, association_id: str) -> bool:
        """True for a counsellor or supervisor of `association_id`."""
        return self.role in ASSOCIATION_STAFF and self.association_id == association_id


class Actor(BaseModel):
    """Who did something, as audit trails record it: a person from their token, or a service or timer."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(description="The token's subject, or the service (its event source) or timer that acted.")
    role: str = Field(description="counsellor, supervisor, bank, ops, service (an event) or system (a timer).")

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The person or system behind a bearer token."""
        return cls(subject=principal.subject, role=principal.role.value)

    @classmethod
    def service(cls, source: str) -> Actor:
        """Another service, whose event (from `source`) moved the file."""
        return cls(subject=source, role="service")

    @classmethod
    def system(cls, name: str) -> Actor:
        """The service itself: a timer or a background job."""
        return cls(subject=name, role="system")


class AuthError(BusinessRuleError):
    """Missing, expired or invalid credentials: 401."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="Authorization", rule="bearer_token", status=401)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The principal a verified token names; a token without one platform role is refused (401)."""
    roles = claims.get("role")
    candidates = [roles] if isinstance(roles, str) else list(roles or []) if isinstance(roles, list) else []
    platform_roles = [r for r in candidates if r in Role.__members__.values()]
    if len(platform_roles) != 1:
        raise AuthError(f"the token must name exactly one role of the platform, it names {roles!r}")
    try:
        return Principal(
            subject=claims.get("preferred_username") or claims["sub"],
            role=platform_roles[0],
            association_id=claims.get("association_id"),
            region=claims.get("region"),
            bank_id=claims.get("bank_id"),
        )
    except (ValidationError, KeyError) as exc:
        raise AuthError(f"the token does not say who is calling: {exc}") from None


# Declares the bearer scheme in the OpenAPI document; the checks and their 401 problems are ours.
_BEARER = HTTPBearer(auto_error=False, bearerFormat="JWT", description="An access token naming the caller's role.")


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
) -> Principal:
    """FastAPI dependency: the caller's principal from `Authorization: Bearer <access token>`."""
    if credentials is None or not credentials.credentials.strip():
        raise AuthError("an `Authorization: Bearer <token>` header is required")
    try:
        claims = await request.app.state.ctx.verifier.claims(credentials.credentials.strip())
    except TokenRefused as refused:
        raise AuthError(str(refused)) from None
    return principal_from_claims(claims)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only `roles` through (403 otherwise)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise BusinessRuleError(f"this action is for: {allowed}", field="role", rule="forbidden_role", status=403)
        return principal

    check.roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI document (403 on the route)
    return check


# The callers an endpoint lets through, one name each.
AssociationStaff = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR))]
AssociationStaffOrOps = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR, Role.OPS))]
AssociationStaffOrBank = Annotated[Principal, Depends(require(Role.COUNSELLOR, Role.SUPERVISOR, Role.BANK))]
Counsellor = Annotated[Principal, Depends(require(Role.COUNSELLOR))]
PartnerBank = Annotated[Principal, Depends(require(Role.BANK))]
Ops = Annotated[Principal, Depends(require(Role.OPS))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Dpo = Annotated[Principal, Depends(require(Role.DPO))]
