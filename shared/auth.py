"""Bearer-token authentication: signed JWTs carrying the role, the association, the region and the bank.

`python -m shared.auth issue --role counsellor --sub c-lefebvre --association secours-catholique
--region hauts-de-france` prints a token for local use (secret from `--secret` or `MC_JWT_SECRET`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import BusinessRuleError

ALGORITHM = "HS256"
AUDIENCE = "microcredit-platform"
ISSUER = "microcredit-platform"


class Role(StrEnum):
    """Who is calling."""

    COUNSELLOR = "counsellor"
    SUPERVISOR = "supervisor"
    BANK = "bank"
    OPS = "ops"
    ADMIN = "admin"


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


def issue_token(principal: Principal, secret: str, *, now: datetime, ttl: timedelta = timedelta(hours=8)) -> str:
    """Sign a token for `principal`, valid for `ttl`."""
    claims = {
        "sub": principal.subject,
        "role": principal.role.value,
        "association_id": principal.association_id,
        "region": principal.region,
        "bank_id": principal.bank_id,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str) -> Principal:
    """Verify signature, audience, issuer and expiry; return the principal or raise AuthError."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER, options={"require": ["exp", "sub"]}
        )
        return Principal(
            subject=claims["sub"],
            role=claims.get("role"),
            association_id=claims.get("association_id"),
            region=claims.get("region"),
            bank_id=claims.get("bank_id"),
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the bearer token has expired") from None
    except (jwt.InvalidTokenError, ValidationError, KeyError) as exc:
        raise AuthError(f"invalid bearer token: {exc}") from None


# Declares the bearer scheme in the OpenAPI document; the checks and their 401 problems are ours.
_BEARER = HTTPBearer(auto_error=False, bearerFormat="JWT", description="An access token naming the caller's role.")


def authenticate(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Principal:
    """FastAPI dependency: the caller's principal from `Authorization: Bearer <jwt>`."""
    if credentials is None or not credentials.credentials.strip():
        raise AuthError("an `Authorization: Bearer <token>` header is required")
    secret = request.app.state.ctx.settings.jwt_secret.get_secret_value()
    return decode_token(credentials.credentials.strip(), secret)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only `roles` through (403 otherwise)."""

    def check(principal: CurrentPrincipal) -> Principal:
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


def main(argv: Sequence[str] | None = None) -> int:
    """`issue`: print a signed token for local use."""
    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="Issue a bearer token for local use.")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue")
    issue.add_argument("--role", required=True, choices=[r.value for r in Role])
    issue.add_argument("--sub", required=True, help="who the token is for, e.g. c-lefebvre")
    issue.add_argument("--association")
    issue.add_argument("--region")
    issue.add_argument("--bank")
    issue.add_argument("--hours", type=float, default=8.0)
    issue.add_argument("--secret", default=os.environ.get("MC_JWT_SECRET"), help="signing secret (default: $MC_JWT_SECRET)")
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("no signing secret: pass --secret or set MC_JWT_SECRET")
    try:
        principal = Principal(
            subject=args.sub, role=args.role, association_id=args.association, region=args.region, bank_id=args.bank
        )
    except ValidationError as exc:
        parser.error(str(exc.errors()[0]["msg"]))
    print(issue_token(principal, args.secret, now=datetime.now(UTC), ttl=timedelta(hours=args.hours)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
