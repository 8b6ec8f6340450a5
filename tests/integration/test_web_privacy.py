"""The DPO's requests in the workspace reach the privacy service, and a refusal the law imposes is shown with its reason.

The workspace runs in this process on a real Postgres (its sessions); the services it calls answer through
an in-memory transport as the privacy service and the holders of the file answer, so that the page is read
exactly as the DPO reads it after clicking « Demander l'effacement ».
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest

from services.web.app import create_app
from services.web.sessions import COOKIE
from services.web.settings import WebSettings
from shared.clock import FixedClock
from tests.integration.conftest import NOW
from tests.support import tokens

pytestmark = pytest.mark.integration

SUBJECT = str(uuid4())
LEGAL_REASON = (
    "Tant que le prêt court, ses données sont nécessaires à son exécution (RGPD, art. 6.1.b) ; l'effacement est refusé "
    "pendant cette période (RGPD, art. 17.3.b) ; la limitation du traitement reste possible."
)
HOSTS = {"intake": "intake.test", "assessment": "assessment.test", "servicing": "servicing.test", "notifications": "notifications.test",
         "directory": "directory.test", "privacy": "privacy.test"}


def _services(asked: list[tuple[str, str, str]]) -> httpx.MockTransport:
    """The platform as the workspace sees it: each holder's records of the subject, and a privacy service that refuses."""
    service_of = {host: name for name, host in HOSTS.items()}

    def answer(request: httpx.Request) -> httpx.Response:
        service = service_of[request.url.host]
        asked.append((service, request.method, request.url.path))
        if service != "privacy":
            rows = {"applications": [{"id": SUBJECT, "applicant_name": "Nadia Benali"}]} if service == "intake" else {}
            return httpx.Response(200, json={"service": service, "subject_id": SUBJECT, "records": rows})
        if request.method == "POST":
            return httpx.Response(409, headers={"content-type": "application/problem+json"}, json={
                "type": "about:blank", "title": "Erasure refused", "status": 409, "rule": "active-loan", "legal_reason": LEGAL_REASON,
                "detail": "L'effacement est refusé tant que le prêt court ; la limitation du traitement reste possible.",
            })
        return httpx.Response(200, json={"subject_id": SUBJECT, "status": "approved", "erasable": False,
                                         "erasable_reason": LEGAL_REASON, "restricted": False, "rule": None})

    return httpx.MockTransport(answer)


Workspace = tuple[httpx.AsyncClient, str, list[tuple[str, str, str]]]


@pytest.fixture
async def workspace(database: str) -> AsyncIterator[Workspace]:
    """The workspace with the DPO signed in (her session written as sign-in writes it), its client and her CSRF token."""
    settings = WebSettings(
        oidc_issuer=tokens.TEST_ISSUER, oidc_client_secret="unused", database_url=database,
        **{f"{name}_url": f"http://{host}" for name, host in HOSTS.items()},
    )
    asked: list[tuple[str, str, str]] = []
    clock = FixedClock(NOW)
    app = create_app(settings, clock=clock, transport=_services(asked))
    async with app.router.lifespan_context(app):
        session = await app.state.ctx.sessions.create({
            "access_token": "the-dpo-token", "expires_at": (NOW + timedelta(hours=1)).timestamp(),
            "principal": tokens.dpo().model_dump(mode="json"), "name": "Anne Lambert",
        }, timedelta(hours=1))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test", cookies={COOKIE: session.id}) as client:
            yield client, session.csrf, asked


async def test_an_erasure_the_law_refuses_is_shown_to_the_dpo_with_its_legal_reason(workspace: Workspace) -> None:
    client, csrf, asked = workspace

    page = await client.post(f"/protection-des-donnees/{SUBJECT}/effacement", data={"csrf": csrf})

    assert page.status_code == 409
    assert ("privacy", "POST", f"/v1/subjects/{SUBJECT}/erasure") in asked
    shown = page.text
    assert "La demande est refusée." in shown
    escaped = LEGAL_REASON.replace("'", "&#39;")  # as the page's HTML writes an apostrophe
    assert f'<p id="raison-legale">{escaped}</p>' in shown
    assert "Données personnelles — Nadia Benali" in shown


async def test_restricting_and_lifting_go_to_the_privacy_service(workspace: Workspace) -> None:
    client, csrf, asked = workspace

    limited = await client.post(f"/protection-des-donnees/{SUBJECT}/limitation", data={"csrf": csrf, "action": "limiter"})
    lifted = await client.post(f"/protection-des-donnees/{SUBJECT}/limitation", data={"csrf": csrf, "action": "lever"})

    assert (limited.status_code, lifted.status_code) == (200, 200)
    assert "Le traitement des données de cette personne est limité." in limited.text
    assert "La limitation du traitement est levée." in lifted.text
    sent = [(method, path) for service, method, path in asked if service == "privacy" and method != "GET"]
    assert sent == [("PUT", f"/v1/subjects/{SUBJECT}/restriction"), ("DELETE", f"/v1/subjects/{SUBJECT}/restriction")]
