"""The directory's pages for its administrator, and a partner bank's webhook pages, in a real browser.

The administrator raises a network's threshold from its association's page: a value out of bounds is refused next
to its field with what was typed kept and nothing saved; the accepted one shows in the history and in the directory.
A bank officer subscribes a receiver of the test's own, reads the signing key once, sees the first delivery fail,
resends it with the keyboard only without the page reloading, sees it delivered, and unsubscribes after a confirmation.
A counsellor gets the refusal page on these addresses. axe-core runs on every page.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Browser, Page

from deploy.local.journey import Credentials, sample_application
from tests.e2e.conftest import RunningPlatform
from tests.e2e.web.support import csp_errors, serious_violations, sign_in
from tests.support import notifications as receiver
from tests.support import tokens

pytestmark = pytest.mark.e2e
NETWORK = "restos-du-coeur-federation"  # no browser test routes a file of its associations: its thresholds are free to change
ROUTED = "fr.microcredit.application.routed.v1"


async def directory_network(platform: RunningPlatform) -> tuple[dict, list[dict]]:  # type: ignore[type-arg]
    """The network as the directory keeps it, and its changes."""
    async with httpx.AsyncClient(base_url=platform.urls["directory"], timeout=30) as api:
        headers = await platform.bearer(tokens.admin())
        network = (await api.get(f"/networks/{NETWORK}", headers=headers)).json()
        trail = (await api.get(f"/networks/{NETWORK}/audit", headers=headers)).json()
    return network, trail


async def route_a_file(platform: RunningPlatform, credentials: Credentials) -> str:
    """A counsellor's file, submitted, assessed and routed to Crédit Mutuel Nord (through the APIs): an `application routed` event."""
    urls, counsellor = platform.urls, credentials.as_counsellor()
    async with httpx.AsyncClient(timeout=30) as client:
        app = sample_application(11)
        draft = (await client.post(f"{urls['intake']}/applications", json=app, headers=counsellor)).json()
        app_id = draft["id"]
        assert (await client.post(f"{urls['intake']}/applications/{app_id}/submission", json={}, headers=counsellor)).status_code < 300
        for _ in range(120):
            if (await client.get(f"{urls['assessment']}/assessments/{app_id}", headers=counsellor)).status_code == 200:
                break
            await asyncio.sleep(0.25)
        today = date.today()
        ficp = {"consulted_on": today.isoformat(), "result": "not_registered", "reference": f"FICP-{today:%Y%m%d}-{app_id[:8]}"}
        assert (await client.post(f"{urls['assessment']}/assessments/{app_id}/ficp", json=ficp, headers=counsellor)).status_code < 300
        outcome = {
            "outcome": "favourable", "opinion": "Projet solide : le véhicule permet de garder l'emploi.", "bank_id": credentials.bank,
            "amount_cents": app["amount_cents"], "duration_months": app["duration_months"], "annual_rate": "0.035",
        }
        routed = await client.post(f"{urls['assessment']}/assessments/{app_id}/outcome", json=outcome, headers=counsellor)
        assert routed.status_code < 300, routed.text
    return str(app_id)


async def reload_until(page: Page, selector: str, text: str, timeout: float = 60.0) -> None:
    """Reload the page until `selector` shows `text` (the platform works asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.locator(selector).filter(has_text=text).count():
        assert asyncio.get_running_loop().time() < deadline, f"{selector} never showed {text!r}"
        await asyncio.sleep(1)
        await page.reload()


async def test_an_admin_raises_a_networks_threshold_from_its_association_and_a_refused_value_saves_nothing(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    context, page, console = await sign_in(browser, workspace, "adm-moreau", platform.identity.password("adm-moreau"))
    await page.get_by_role("link", name="Annuaire", exact=True).click()
    await page.wait_for_url(f"{workspace}/annuaire")
    assert (await page.inner_text("h1")) == "Annuaire"
    assert await serious_violations(page) == []

    await page.get_by_role("link", name="Restos du Cœur – Haute-Garonne").click()
    await page.wait_for_url(f"{workspace}/annuaire/associations/restos-du-coeur")
    assert "part maximale des ressources : 30 %" in await page.inner_text("main")
    assert await serious_violations(page) == []
    await page.locator("dd").get_by_role("link", name="Fédération des Restaurants du Cœur").click()
    await page.wait_for_url(f"{workspace}/annuaire/reseaux/{NETWORK}")

    field = page.locator("#max_instalment_share")
    assert await field.input_value() == "30"
    await field.fill("60")
    async with page.expect_navigation() as refused:
        await page.get_by_role("button", name="Enregistrer les modifications").click()
    assert (await refused.value).status == 422
    assert await page.inner_text("#max_instalment_share-probleme") == "La part des ressources va de 5 % à 50 %."
    assert (await field.input_value(), await field.get_attribute("aria-invalid")) == ("60", "true")
    assert "max_instalment_share-probleme" in (await field.get_attribute("aria-describedby") or "")
    assert await serious_violations(page) == []
    network, trail = await directory_network(platform)
    assert (network["max_instalment_share"], len(trail)) == ("0.3", 1), "nothing was saved"

    await field.fill("35,5")
    await page.get_by_role("button", name="Enregistrer les modifications").click()
    await page.get_by_role("status").filter(has_text="Les modifications sont enregistrées.").wait_for()
    newest = page.locator("#titre-historique + table tbody tr").first
    assert "Part maximale des ressources pour l'échéance : 30 % → 35,5 %" in await newest.inner_text()
    assert "adm-moreau" in await newest.inner_text()
    network, trail = await directory_network(platform)
    assert network["max_instalment_share"] == "0.355"
    assert (trail[-1]["actor"], trail[-1]["action"], trail[-1]["after"]["max_instalment_share"]) == ("adm-moreau", "changed", "0.355")
    assert await serious_violations(page) == []

    # A new partner bank, through the form to add one: it is in the directory at once.
    bank_id = f"banque-essai-{uuid4().hex[:6]}"
    await page.goto(f"{workspace}/annuaire/banques/nouveau")
    assert await serious_violations(page) == []
    await page.get_by_label("Identifiant").fill(bank_id)
    await page.get_by_label("Nom").fill("Banque d'essai du Nord")
    await page.get_by_role("button", name="Ajouter").click()
    await page.wait_for_url(lambda url: url == f"{workspace}/annuaire/banques/{bank_id}?enregistre=1")
    assert (await page.inner_text("h1")) == "Banque partenaire : Banque d'essai du Nord"
    assert "Création" in await page.inner_text("#titre-historique + table")
    await page.goto(f"{workspace}/annuaire")
    assert await page.get_by_role("link", name="Banque d'essai du Nord").count() == 1
    # The browser logs the refused form's 422 as a failed load: that one was wanted.
    assert not [m for m in csp_errors(console) if "status of 422" not in m], console
    await context.close()


async def test_a_bank_officer_subscribes_sees_a_delivery_fail_resends_it_with_the_keyboard_and_unsubscribes(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    credentials = await Credentials.sign_in(platform.identity)
    with receiver.bank_endpoint(lambda: datetime.now(UTC), fail_first=1, failure_status=500) as endpoint:
        context, page, console = await sign_in(browser, workspace, "b-dubois", platform.identity.password("b-dubois"))
        await page.get_by_role("link", name="Abonnements").click()
        await page.wait_for_url(f"{workspace}/banque/abonnements")
        assert await serious_violations(page) == []

        await page.get_by_label("Adresse de votre serveur").fill(endpoint.url)
        await page.get_by_label("Dossier transmis à la banque").check()
        await page.get_by_role("button", name="S'abonner").click()
        await page.locator("#cle-signature").wait_for()
        endpoint.secret = await page.locator("#cle-signature").input_value()
        assert endpoint.secret.startswith("whsec_")
        assert "elle ne sera plus jamais affichée" in await page.inner_text("#cle-une-fois")
        assert await serious_violations(page) == []
        await page.get_by_role("link", name="Voir le journal de cet abonnement").click()
        subscription_url = page.url
        assert endpoint.secret not in await page.content(), "the signing key is shown once only"

        await route_a_file(platform, credentials)
        await reload_until(page, "tbody tr", "Votre serveur a répondu 500")
        row = page.locator("tbody tr").first
        assert "Dossier transmis à la banque" in await row.inner_text()
        assert await serious_violations(page) == []

        # The keyboard only: from the top of the page, Tab to the row's « Renvoyer » and press Enter.
        await page.evaluate("window.samePage = true")
        await page.locator("body").focus()
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.textContent.trim() === 'Renvoyer'"):
                break
        else:
            pytest.fail("« Renvoyer » cannot be reached with the Tab key")
        await page.keyboard.press("Enter")
        await page.locator("tbody tr .etat").first.filter(has_text="Livré le").wait_for(timeout=30_000)
        assert await page.evaluate("window.samePage === true"), "the page was reloaded"
        assert [h.answered for h in endpoint.hooks] == [500, 204] and all(h.signed for h in endpoint.hooks)
        assert endpoint.hooks[0].headers["x-microcredit-delivery"] == endpoint.hooks[1].headers["x-microcredit-delivery"]

        await page.get_by_role("link", name="Se désabonner…").click()
        assert "Se désabonner de" in await page.inner_text("h1")
        assert await serious_violations(page) == []
        await page.get_by_role("button", name="Oui, me désabonner").click()
        await page.get_by_role("status").filter(has_text="Vous êtes désabonné").wait_for()
        async with httpx.AsyncClient(base_url=platform.urls["notifications"], timeout=30) as api:
            listed = (await api.get("/webhooks/subscriptions", headers=credentials.as_bank())).json()
        assert endpoint.url not in [s["url"] for s in listed]
        assert not csp_errors(console), console
        gone = await page.goto(subscription_url)
        assert gone is not None and gone.status == 404
        await context.close()


async def test_a_refused_subscription_keeps_what_was_typed(platform: RunningPlatform, workspace: str, browser: Browser) -> None:
    context, page, _ = await sign_in(browser, workspace, "b-dubois", platform.identity.password("b-dubois"))
    await page.goto(f"{workspace}/banque/abonnements")

    await page.get_by_label("Adresse de votre serveur").fill("pas une adresse")
    async with page.expect_navigation() as refused:
        await page.get_by_role("button", name="S'abonner").click()

    assert (await refused.value).status == 422
    assert await page.inner_text("#url-probleme") == "Indiquez une adresse web complète, par exemple https://banque.exemple/webhooks."
    assert await page.inner_text("#event_types-probleme") == "Choisissez au moins un événement."
    assert await page.get_by_label("Adresse de votre serveur").input_value() == "pas une adresse"
    assert await serious_violations(page) == []
    await context.close()


async def test_a_counsellor_gets_the_refusal_page_on_the_directory_and_the_banks_pages(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    context, page, _ = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))

    for address in (
        "/annuaire", "/annuaire/associations/secours-catholique", f"/annuaire/reseaux/{NETWORK}", "/annuaire/contacts/nouveau",
        "/banque/abonnements", f"/banque/abonnements/{uuid4()}",
    ):
        answer = await page.goto(f"{workspace}{address}")
        assert answer is not None and answer.status in (403, 404), address
        assert (await page.inner_text("h1")) in ("Accès refusé", "Page introuvable"), address
    cookies = {c["name"]: c["value"] for c in await context.cookies(workspace)}
    async with httpx.AsyncClient(base_url=workspace, cookies=cookies, timeout=30) as forged:
        refused = await forged.post(f"/annuaire/reseaux/{NETWORK}", data={"csrf": "forged", "name": "Piraté"})
    assert refused.status_code == 403 and "Formulaire expiré" in refused.text
    await context.close()
