"""Access tokens from the local Keycloak, for scripts, the demo, the benchmark and the end-to-end tests.

People sign in with their password through the realm's `microcredit-scripts` client (the demo people's
passwords were generated at `make run`); a partner bank's systems use their client's credentials. A
person the realm does not have yet (a benchmark's fifty counsellors, a test's supervisor of another
association) is created first through Keycloak's admin API, in the group of their association and
region (or bank) with their role, so their tokens carry exactly the claims a real person's would.
"""

from __future__ import annotations

import asyncio
import json
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.local.keycloak import REALM, REALM_FILE, LocalKeycloak
from shared.auth import Principal, Role

SCRIPTS_CLIENT = "microcredit-scripts"
WEB_CLIENT = "microcredit-web"
_RENEW_BEFORE_SECONDS = 60


class IdentityError(RuntimeError):
    """Keycloak refused to give a token, or to create a person."""


def bank_system(bank_id: str) -> Principal:
    """A partner bank's systems, signing in with their client's credentials."""
    return Principal(subject=f"service-account-bank-{bank_id}", role=Role.BANK, bank_id=bank_id)


def _password_variable(username: str) -> str:
    return "MC_PASSWORD_" + username.upper().replace("-", "_").replace(".", "_")


@dataclass
class LocalIdentity:
    """Tokens of the local realm, for any principal; each kept until a minute before it expires."""

    url: str  # Keycloak's base URL
    secrets: dict[str, str]
    realm: str = REALM
    _tokens: dict[Principal, tuple[str, float]] = field(default_factory=dict)
    _created: set[str] = field(default_factory=set)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _signing_in: dict[Principal, asyncio.Lock] = field(default_factory=dict)

    @classmethod
    def of(cls, keycloak: LocalKeycloak) -> LocalIdentity:
        """The identity provider a local Keycloak (running) is."""
        if keycloak.url is None:
            raise IdentityError(f"no Keycloak was started in {keycloak.state_dir}")
        return cls(url=keycloak.url, secrets=keycloak.secrets())

    @classmethod
    def of_state_dir(cls, state_dir: Path) -> LocalIdentity:
        """The identity provider of the platform started in `state_dir`."""
        return cls.of(LocalKeycloak(state_dir))

    @property
    def issuer(self) -> str:
        """The realm's issuer URL."""
        return f"{self.url}/realms/{self.realm}"

    def knows(self, username: str) -> bool:
        """Whether `username` is one of the realm's demo people (their password was generated at `make run`)."""
        return _password_variable(username) in self.secrets

    async def person_token(self, username: str, client: httpx.AsyncClient | None = None) -> str:
        """An access token of a person the realm has, by username and password."""
        async with _client(client) as http:
            answer = await self._grant(http, {
                "grant_type": "password", "client_id": SCRIPTS_CLIENT, "username": username, "password": self.password(username),
            })
        return str(answer["access_token"])

    def password(self, username: str) -> str:
        """A demo person's generated password, or the one this launcher gives a person it creates."""
        known = self.secrets.get(_password_variable(username))
        if known is not None:
            return known
        # Derived, not stored: the same person gets the same password from any process of this state dir.
        key = self.secrets["MC_KEYCLOAK_ADMIN_PASSWORD"].encode()
        return "P-" + hmac.new(key, username.encode(), hashlib.sha256).hexdigest()[:24]

    async def headers(self, principal: Principal, client: httpx.AsyncClient | None = None) -> dict[str, str]:
        """`Authorization: Bearer …` for `principal`, signing in (and creating the person) when needed."""
        return {"Authorization": f"Bearer {await self.token(principal, client)}"}

    async def token(self, principal: Principal, client: httpx.AsyncClient | None = None) -> str:
        """An access token for `principal`; callers asking at once share one sign-in (Keycloak answers `invalid_grant`
        to some of a person's password sign-ins made at the same instant)."""
        async with self._signing_in.setdefault(principal, asyncio.Lock()):
            kept = self._tokens.get(principal)
            if kept is not None and kept[1] > time.monotonic():
                return kept[0]
            return await self._sign_in(principal, client)

    async def _sign_in(self, principal: Principal, client: httpx.AsyncClient | None) -> str:
        async with _client(client) as http:
            if principal.role is Role.BANK and principal == bank_system(principal.bank_id or ""):
                answer = await self._grant(http, {
                    "grant_type": "client_credentials", "client_id": f"bank-{principal.bank_id}",
                    "client_secret": self._client_secret(f"bank-{principal.bank_id}"),
                })
            else:
                if _password_variable(principal.subject) not in self.secrets:
                    await self.ensure_person(principal, http)
                answer = await self._grant(http, {
                    "grant_type": "password", "client_id": SCRIPTS_CLIENT,
                    "username": principal.subject, "password": self.password(principal.subject),
                })
        token = str(answer["access_token"])
        self._tokens[principal] = (token, time.monotonic() + float(answer.get("expires_in", 300)) - _RENEW_BEFORE_SECONDS)
        return token

    def _client_secret(self, client_id: str) -> str:
        name = "MC_SECRET_" + client_id.upper().replace("-", "_")
        try:
            return self.secrets[name]
        except KeyError:
            raise IdentityError(f"the realm has no client {client_id!r} (no {name} among its secrets)") from None

    async def _grant(self, http: httpx.AsyncClient, form: dict[str, str]) -> dict[str, Any]:
        response = await http.post(f"{self.issuer}/protocol/openid-connect/token", data=form)
        if response.status_code != 200:
            raise IdentityError(f"Keycloak refused a token ({form['grant_type']}): {response.status_code} {response.text}")
        return response.json()

    # --- the admin API: people the realm does not have yet -----------------------------------------

    async def ensure_person(self, principal: Principal, http: httpx.AsyncClient) -> None:
        """Create `principal` as a person of the realm (group and role), unless they exist already."""
        async with self._lock:
            if principal.subject in self._created:
                return
            admin = await self.admin_headers(http)
            base = f"{self.url}/admin/realms/{self.realm}"
            found = await http.get(f"{base}/users", params={"username": principal.subject, "exact": "true"}, headers=admin)
            if not found.json():
                group = await self._group_of(principal, http, admin)
                created = await http.post(f"{base}/users", headers=admin, json={
                    "username": principal.subject, "enabled": True, "emailVerified": True,
                    "firstName": principal.subject, "lastName": principal.role.value,
                    "email": f"{principal.subject}@people.microcredit.example",
                    "groups": [group] if group else [],
                    "credentials": [{"type": "password", "value": self.password(principal.subject), "temporary": False}],
                })
                if created.status_code not in (201, 409):
                    raise IdentityError(f"Keycloak refused to create {principal.subject}: {created.status_code} {created.text}")
                found = await http.get(f"{base}/users", params={"username": principal.subject, "exact": "true"}, headers=admin)
            user_id = found.json()[0]["id"]
            role = (await http.get(f"{base}/roles/{principal.role.value}", headers=admin)).json()
            await http.post(f"{base}/users/{user_id}/role-mappings/realm", headers=admin, json=[role])
            # Keycloak gives every new user the realm's default role: the token's `role` must be the platform's only.
            default = (await http.get(f"{base}/roles/default-roles-{self.realm}", headers=admin)).json()
            await http.request("DELETE", f"{base}/users/{user_id}/role-mappings/realm", headers=admin, json=[default])
            self._created.add(principal.subject)

    async def _group_of(self, principal: Principal, http: httpx.AsyncClient, admin: dict[str, str]) -> str | None:
        """The group path that gives `principal` its claims, created (with its attributes) if missing."""
        if principal.association_id:
            path = [("associations", {}), (principal.association_id, {"association_id": [principal.association_id]})]
            if principal.region:
                path.append((principal.region, {"region": [principal.region]}))
        elif principal.bank_id:
            path = [("banques", {}), (principal.bank_id, {"bank_id": [principal.bank_id]})]
        else:
            return None
        base = f"{self.url}/admin/realms/{self.realm}"
        parent: str | None = None
        names: list[str] = []
        for name, attributes in path:
            names.append(name)
            found = await http.get(f"{base}/group-by-path/{'/'.join(names)}", headers=admin)
            if found.status_code == 200:
                parent = found.json()["id"]
                continue
            target = f"{base}/groups/{parent}/children" if parent else f"{base}/groups"
            created = await http.post(target, headers=admin, json={"name": name, "attributes": attributes})
            if created.status_code not in (201, 409):
                raise IdentityError(f"Keycloak refused to create group {'/'.join(names)}: {created.text}")
            parent = (await http.get(f"{base}/group-by-path/{'/'.join(names)}", headers=admin)).json()["id"]
        return "/" + "/".join(names)

    async def register_web(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        """Point the workspace's client at `base_url`: its sign-in callback, origin and sign-out return (idempotent)."""
        async with _client(client) as http:
            admin = await self.admin_headers(http)
            base = f"{self.url}/admin/realms/{self.realm}/clients"
            [web] = (await http.get(base, params={"clientId": WEB_CLIENT}, headers=admin)).json()
            web["redirectUris"] = [f"{base_url}/auth/callback"]
            web["webOrigins"] = [base_url]
            web["attributes"] = {**web.get("attributes", {}), "post.logout.redirect.uris": f"{base_url}/*"}
            answer = await http.put(f"{base}/{web['id']}", json=web, headers=admin)
            if answer.status_code != 204:
                raise IdentityError(f"Keycloak refused the workspace's address {base_url}: {answer.status_code} {answer.text}")

    def web_client_secret(self) -> str:
        """The workspace's client secret (generated at the first `make run`)."""
        return self.secrets["MC_SECRET_WEB"]

    async def admin_headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        """The `Authorization` header of Keycloak's own administrator (the admin REST API)."""
        response = await http.post(f"{self.url}/realms/master/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": "admin-cli",
            "username": "admin", "password": self.secrets["MC_KEYCLOAK_ADMIN_PASSWORD"],
        })
        if response.status_code != 200:
            raise IdentityError(f"Keycloak's administrator could not sign in: {response.status_code} {response.text}")
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


class _client:
    """The caller's HTTP client, or a short-lived one."""

    def __init__(self, given: httpx.AsyncClient | None) -> None:
        self._given, self._own = given, None

    async def __aenter__(self) -> httpx.AsyncClient:
        if self._given is not None:
            return self._given
        self._own = httpx.AsyncClient(timeout=30.0)
        return self._own

    async def __aexit__(self, *_: object) -> None:
        if self._own is not None:
            await self._own.aclose()


def describe(secrets: dict[str, str]) -> str:
    """What `make run` prints about the demo people: who they are, their role and group, their password (local only)."""
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    lines = []
    for person in sorted(realm.get("users", []), key=lambda u: u["username"]):
        password = secrets.get(_password_variable(person["username"]))
        if password is None:
            continue
        who = f"{person.get('firstName', '')} {person.get('lastName', '')}".strip()
        # "/associations/secours-catholique/hauts-de-france" → "secours-catholique / hauts-de-france"; "/banques/x" → "x"
        where = ", ".join(" / ".join(g.strip("/").split("/")[1:]) for g in person.get("groups", []))
        role = ", ".join(person.get("realmRoles", []))
        lines.append(f"  {person['username']:<12} {password}   {who} — {role}{' — ' + where if where else ''}")
    return "\n".join(lines)
