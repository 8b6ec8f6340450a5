"""Who may do what in the directory: only admins write and read the audit trails and people's contacts; anyone signed in
reads the networks, associations and banks (no personal data there)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.auth import Principal
from tests.integration.conftest import RunningService, ServiceStarter
from tests.support import directory, tokens
from tests.support.directory_service import fill
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

CALLERS: dict[str, Principal] = {
    "admin": tokens.admin(),
    "counsellor": tokens.counsellor(),
    "supervisor": tokens.supervisor(),
    "bank": tokens.bank(),
    "ops": tokens.ops(),
}
ADMIN_ONLY = {caller: 200 if caller == "admin" else 403 for caller in CALLERS}
EVERYONE = dict.fromkeys(CALLERS, 200)
ENTITIES = {
    "networks": directory.network(), "associations": directory.association(), "banks": directory.bank(),
    "contacts": directory.contact("c-lefebvre", directory.CLAIRE, "counsellor", display_name="Claire Lefebvre"),
}
PUBLIC = ("networks", "associations", "banks")


def endpoints() -> list[Any]:
    """Every route of the directory, with what each caller gets."""
    found = []
    for collection, snapshot in ENTITIES.items():
        path, body = directory.put_body(snapshot)
        readers = EVERYONE if collection in PUBLIC else ADMIN_ONLY
        found += [
            pytest.param("PUT", path, body, ADMIN_ONLY, id=f"PUT {path}"),
            pytest.param("GET", path, None, readers, id=f"GET {path}"),
            pytest.param("GET", f"/{collection}", None, readers, id=f"GET /{collection}"),
            pytest.param("GET", f"{path}/audit", None, ADMIN_ONLY, id=f"GET {path}/audit"),
        ]
    return found


@pytest.fixture
async def service(start_service: ServiceStarter) -> RunningService:
    started = await start_service("directory")
    await fill(started)
    return started


@pytest.mark.parametrize(("method", "path", "body", "expected"), endpoints())
async def test_each_role_does_only_what_it_may(
    service: RunningService, method: str, path: str, body: dict[str, Any] | None, expected: dict[str, int]
) -> None:
    statuses = {
        caller: (await service.http.request(method, path, json=body, headers=bearer(principal))).status_code
        for caller, principal in CALLERS.items()
    }
    anonymous = await service.http.request(method, path, json=body)

    assert statuses == expected
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["field"] == "Authorization"


async def test_a_refused_write_changes_nothing(service: RunningService) -> None:
    path, body = directory.put_body(directory.bank())

    refused = await service.http.put(path, json={**body, "active": False}, headers=bearer(tokens.ops()))

    assert refused.status_code == 403
    assert (await service.http.get(path, headers=bearer(tokens.ops()))).json()["active"] is True
