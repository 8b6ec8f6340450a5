"""The web workspace in a real browser (Debian's Chromium driven by Playwright), signed in on the real Keycloak page.

A counsellor follows a loan whose first instalment was missed: she signs in, finds the file and the alert on
her home page, acknowledges the alert in her inbox without the page reloading; a counsellor of another
association gets the very page an unknown file gets; signing out ends Keycloak's session too. axe-core runs
on every page the counsellor sees.
"""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Browser

from deploy.local.journey import Credentials, Journey, sample_application, walk
from deploy.local.zipkin import fetch_trace, zipkin_records
from tests.e2e.conftest import RunningPlatform
from tests.e2e.web.support import NARROW_NBSP, SCREENS, csp_errors, eventually_value, serious_violations, sign_in
from tests.support import tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def followed_loan(platform: RunningPlatform) -> Journey:
    """Claire Lefebvre's file, from submission to the alert of a missed first instalment (through the APIs)."""
    credentials = await Credentials.sign_in(platform.identity)
    async with httpx.AsyncClient(timeout=30) as client:
        return await walk(client, platform.urls, today=date.today(), credentials=credentials, application=sample_application(7))


async def test_a_counsellor_sees_her_file_and_acknowledges_its_alert_without_the_page_reloading(
    platform: RunningPlatform, workspace: str, browser: Browser, followed_loan: Journey
) -> None:
    context, page, console = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))
    applicant = sample_application(7)["applicant"]

    assert (await page.inner_text("h1")) == "Bonjour Claire Lefebvre"
    home = await page.inner_text("main")
    assert f"{applicant['first_name']} {applicant['last_name']}" in home
    assert f"3{NARROW_NBSP}000,00 €" in home and "Prêt accordé" in home
    assert "impayée" in home, "the missed instalment is among the alerts to handle"
    followed = page.locator(f"#titre-prets ~ table a[href='/prets/{followed_loan.loan_id}']")
    assert await followed.inner_text() == f"3{NARROW_NBSP}000,00 € sur 36 mois", "the loan is among those she follows"
    assert await serious_violations(page) == []
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "accueil-conseillere.png"), full_page=True)

    await page.goto(f"{workspace}/alertes?statut=open")
    row = page.locator(f"#alerte-{followed_loan.alert_id}")
    assert "À traiter" in await row.inner_text()
    assert await serious_violations(page) == []
    await page.evaluate("window.samePage = true")
    await row.get_by_role("button", name="Prendre en compte").click()
    await page.locator(f"#alerte-{followed_loan.alert_id} .etat").filter(has_text="Pris en compte").wait_for()
    assert await page.evaluate("window.samePage === true"), "the page was reloaded"
    assert "par c-lefebvre" in await page.locator(f"#alerte-{followed_loan.alert_id}").inner_text()

    async with httpx.AsyncClient(base_url=platform.urls["notifications"], timeout=30) as api:
        alert = (await api.get(f"/alerts/{followed_loan.alert_id}", headers=await platform.bearer(tokens.counsellor()))).json()
    assert (alert["status"], alert["acknowledged_by"]) == ("acknowledged", "c-lefebvre")

    await page.goto(f"{workspace}/dossiers/{followed_loan.application_id}")
    assert (await page.inner_text("h1")) == f"Dossier de {applicant['first_name']} {applicant['last_name']}"
    assert await serious_violations(page) == []

    await page.get_by_role("link", name=f"Prêt de 3{NARROW_NBSP}000,00 € sur 36 mois").click()
    await page.wait_for_url(f"{workspace}/prets/{followed_loan.loan_id}")
    assert "1 échéance impayée" in await page.inner_text("#resume-graphique")
    assert await page.locator("svg.graphique rect.du-impaye").count() == 1
    assert await page.locator("tbody tr").count() == 36
    assert await serious_violations(page) == []
    await page.screenshot(path=str(SCREENS / "pret-et-graphique.png"), full_page=True)
    assert not csp_errors(console), console
    await context.close()


async def test_another_associations_counsellor_gets_the_page_an_unknown_file_gets(
    platform: RunningPlatform, workspace: str, browser: Browser, followed_loan: Journey
) -> None:
    context, page, _ = await sign_in(browser, workspace, "c-garcia", platform.identity.password("c-garcia"))

    for page_of, theirs in (("dossiers", followed_loan.application_id), ("prets", followed_loan.loan_id)):
        other = await page.goto(f"{workspace}/{page_of}/{theirs}")
        other_text = await page.inner_text("main")
        unknown = await page.goto(f"{workspace}/{page_of}/{uuid4()}")
        unknown_text = await page.inner_text("main")

        assert other is not None and unknown is not None
        assert (other.status, unknown.status) == (404, 404)
        assert other_text == unknown_text and "Page introuvable" in other_text
    await context.close()


async def test_a_form_without_the_sessions_csrf_token_is_refused(
    platform: RunningPlatform, workspace: str, browser: Browser, followed_loan: Journey
) -> None:
    context, page, _ = await sign_in(browser, workspace, "s-marchand", platform.identity.password("s-marchand"))
    cookies = {c["name"]: c["value"] for c in await context.cookies(workspace)}

    async with httpx.AsyncClient(base_url=workspace, cookies=cookies, timeout=30) as forged:
        refused = await forged.post(f"/alertes/{uuid4()}/prise-en-compte", data={"csrf": "forged"})

    assert refused.status_code == 403 and "Formulaire expiré" in refused.text
    await context.close()


async def test_signing_out_ends_the_keycloak_session_too(platform: RunningPlatform, workspace: str, browser: Browser) -> None:
    context, page, _ = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))

    await page.get_by_role("button", name="Se déconnecter").click()
    await page.wait_for_load_state()
    await page.goto(f"{workspace}/")

    assert "/realms/microcredit/protocol/openid-connect/auth" in page.url
    assert await page.locator("#username").is_visible(), "Keycloak signed her in again without asking"
    await context.close()



async def test_the_sign_in_round_trip_uses_pkce_and_a_cookie_scripts_cannot_read(workspace: str) -> None:
    async with httpx.AsyncClient(base_url=workspace, timeout=30) as anonymous:
        home = await anonymous.get("/")
        start = await anonymous.get("/connexion", params={"retour": "https://elsewhere.example/"})

    assert (home.status_code, home.headers["location"]) == (303, "/connexion")
    query = dict(httpx.URL(start.headers["location"]).params)
    assert (query["response_type"], query["client_id"], query["code_challenge_method"]) == ("code", "microcredit-web", "S256")
    assert len(query["code_challenge"]) == 43 and query["state"] and query["nonce"]
    cookie = start.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    csp = home.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


async def test_a_sign_in_callback_without_its_round_trip_is_refused_in_french(workspace: str) -> None:
    async with httpx.AsyncClient(base_url=workspace, timeout=30) as stranger:
        answer = await stranger.get("/auth/callback", params={"code": "stolen", "state": "guessed"})

    assert answer.status_code == 400 and "Connexion interrompue" in answer.text


async def test_a_refused_value_shows_next_to_its_field_keeps_what_was_typed_and_saves_nothing(
    platform: RunningPlatform, workspace: str, browser: Browser, followed_loan: Journey
) -> None:
    context, page, _ = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))
    await page.goto(f"{workspace}/alertes")
    row = page.locator("tr", has_text="Prêt décaissé")
    alert_id = (await row.get_attribute("id") or "").removeprefix("alerte-")
    await page.evaluate("window.samePage = true")

    await row.get_by_label("Reporter jusqu'au").fill("2020-01-15")
    await row.get_by_role("button", name="Reporter").click()
    problem = page.locator(f"#report-{alert_id}-probleme")
    await problem.wait_for()
    assert await problem.inner_text() == "Choisissez un jour après aujourd'hui."
    assert await page.locator(f"#report-{alert_id}").input_value() == "2020-01-15"
    assert await page.locator(f"#report-{alert_id}").get_attribute("aria-invalid") == "true"
    async with httpx.AsyncClient(base_url=platform.urls["notifications"], timeout=30) as api:
        unchanged = (await api.get(f"/alerts/{alert_id}", headers=await platform.bearer(tokens.counsellor()))).json()
    assert unchanged["status"] == "open" and unchanged["snoozed_until"] is None

    await page.locator(f"#alerte-{alert_id}").get_by_role("button", name="Résoudre").click()
    await page.locator(f"#note-{alert_id}-probleme").wait_for()
    assert await page.locator(f"#note-{alert_id}-probleme").inner_text() == "Écrivez au moins quelques mots."
    assert await serious_violations(page) == []

    await page.locator(f"#note-{alert_id}").fill("Appelée : le véhicule est livré, première échéance notée.")
    await page.locator(f"#alerte-{alert_id}").get_by_role("button", name="Résoudre").click()
    await page.locator(f"#alerte-{alert_id} .etat").filter(has_text="Résolu").wait_for()
    assert "« Appelée : le véhicule est livré, première échéance notée. »" in await page.locator(f"#alerte-{alert_id} .etat").inner_text()
    assert await page.evaluate("window.samePage === true"), "the page was reloaded"
    await context.close()


async def test_a_page_links_to_its_trace_in_zipkin_which_holds_the_service_calls_it_made(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    context, page, _ = await sign_in(browser, workspace, "s-marchand", platform.identity.password("s-marchand"))
    await page.goto(f"{workspace}/alertes")
    link = page.locator("footer.pied a")
    trace_id = await link.inner_text()
    assert await link.get_attribute("href") == f"{platform.zipkin}/zipkin/traces/{trace_id}"

    def page_trace() -> set[tuple[str, str]] | None:
        # Asked of Zipkin's own query API (it keeps names in lower case). Each process exports its spans on
        # its own schedule: the page's span may reach Zipkin after the service's, so wait for both.
        joined = {(s["service"], s["name"]) for s in zipkin_records(fetch_trace(platform.zipkin, trace_id)) if s["kind"] == "SERVER"}
        return joined if {("web", "get /alertes"), ("notifications", "get /alerts")} <= joined else None

    assert await eventually_value(page_trace, what="the page's trace, with the service it called, in Zipkin")

    await link.click()  # ops follow the link: Zipkin's own UI shows the trace
    # Zipkin's page draws the trace once it has fetched it: the services' names appear in its text.
    await page.wait_for_function("document.body.innerText.includes('notifications')", timeout=60_000)
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "zipkin-trace-page.png"), full_page=True)
    await context.close()
