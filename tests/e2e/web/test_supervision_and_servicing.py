"""A first contact logged with the keyboard alone; the supervisor's funnel for a chosen period; a schedule
adjustment previewed, asked for and answered; a payment recorded by the bank — each in the browser."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from playwright.async_api import Browser, Page

from deploy.local.journey import Credentials, Journey, sample_application, walk
from tests.e2e.conftest import RunningPlatform
from tests.e2e.web.support import SCREENS, serious_violations, sign_in
from tests.support import tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def missed_loan(platform: RunningPlatform) -> Journey:
    """A loan of Claire Lefebvre's whose first instalment was missed (through the APIs)."""
    credentials = await Credentials.sign_in(platform.identity)
    async with httpx.AsyncClient(timeout=30) as client:
        return await walk(client, platform.urls, today=date.today(), credentials=credentials, application=sample_application(11))


async def tab_to(page: Page, selector: str, presses: int = 80) -> None:
    """Press Tab until the element `selector` names has the focus, as a person without a mouse does."""
    target = page.locator(selector)
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def test_a_first_contact_is_logged_with_the_keyboard_alone_and_starts_the_funnel(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    context, page, _ = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))

    await tab_to(page, "nav a[href='/premiers-contacts']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{workspace}/premiers-contacts")
    assert await serious_violations(page) == []
    await tab_to(page, "#referral_source")
    await page.keyboard.type("CCAS")  # a closed list jumps to the option typed
    assert await page.locator("#referral_source").input_value() == "ccas"
    await tab_to(page, "#outcome-appointment")
    assert await page.locator("#outcome-appointment").is_checked(), "an appointment is the outcome offered first"
    await tab_to(page, "button:has-text('Enregistrer le premier contact')")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{workspace}/premiers-contacts?enregistre=1")
    assert "Premier contact enregistré." in await page.inner_text("main")
    assert "CCAS" in await page.inner_text("#titre-contacts + table")

    # Not eligible without saying why: said next to the field, and nothing is saved.
    before = await page.locator("#titre-contacts + table tbody tr").count()
    await page.get_by_label("Qui a orienté la personne (obligatoire)", exact=True).select_option("self")
    await page.get_by_label("Pas éligible", exact=True).check()
    await page.get_by_role("button", name="Enregistrer le premier contact").click()
    assert await page.locator("#reason-probleme").inner_text() == "Ce champ est à remplir pour ce choix."
    assert await page.get_by_label("Pas éligible", exact=True).is_checked(), "what was chosen is kept"
    assert await page.locator("#titre-contacts + table tbody tr").count() == before
    assert await serious_violations(page) == []
    await context.close()

    supervisor, page, _ = await sign_in(browser, workspace, "s-marchand", platform.identity.password("s-marchand"))
    await page.get_by_role("link", name="Pilotage").click()
    summary = await page.inner_text("#resume-entonnoir")
    first_contacts = int(summary.split("Premiers contacts : ")[1].split(" ;")[0])
    assert first_contacts >= 1 and "Rendez-vous fixés : " in summary and "Prêts accordés : " in summary
    assert await page.locator("svg.entonnoir rect").count() == 6
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "pilotage-entonnoir.png"), full_page=True)
    assert await serious_violations(page) == []

    await page.get_by_label("Du", exact=True).fill("2020-02-01")
    await page.get_by_label("Au", exact=True).fill("2020-01-01")
    await page.get_by_role("button", name="Afficher la période").click()
    assert await page.locator("#du-probleme").is_visible()
    assert await page.get_by_label("Du", exact=True).input_value() == "2020-02-01"
    await page.get_by_label("Du", exact=True).fill("2020-01-01")
    await page.get_by_label("Au", exact=True).fill("2020-01-31")
    await page.get_by_role("button", name="Afficher la période").click()
    assert "Premiers contacts : 0" in await page.inner_text("#resume-entonnoir")
    await supervisor.close()


async def test_an_adjustment_is_previewed_asked_for_and_answered_and_a_payment_recorded(
    platform: RunningPlatform, workspace: str, browser: Browser, missed_loan: Journey
) -> None:
    counsellor, page, _ = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))
    await page.goto(f"{workspace}/prets/{missed_loan.loan_id}")
    await page.evaluate("window.samePage = true")
    await page.get_by_label("Ce que la personne demande (obligatoire)", exact=True).select_option("extension")
    await page.get_by_label("Nombre de mois (pause ou allongement)", exact=True).fill("6")
    await page.get_by_role("button", name="Voir le nouvel échéancier").click()
    preview = page.locator("#apercu")
    await preview.wait_for()
    assert await page.evaluate("window.samePage === true"), "the preview reloaded the page"
    assert "Si la banque accepte aujourd'hui" in await preview.inner_text()
    assert await preview.locator("tbody tr").count() >= 36
    assert await serious_violations(page) == []
    async with httpx.AsyncClient(base_url=platform.urls["servicing"], timeout=30) as api:
        bearer = await platform.bearer(tokens.counsellor())
        assert (await api.get(f"/loans/{missed_loan.loan_id}/adjustments", headers=bearer)).json() == [], "a preview saved something"

    await page.get_by_label("Pourquoi la personne en a besoin", exact=True).fill("Perte d'heures de travail ce trimestre : mensualité trop lourde.")
    await page.get_by_role("button", name="Envoyer la demande à la banque").click()
    await page.wait_for_url(f"{workspace}/prets/{missed_loan.loan_id}*")
    assert "En attente de la réponse de la banque" in await page.inner_text("#titre-amenagements ~ .amenagement")
    await counsellor.close()

    bank, page, _ = await sign_in(browser, workspace, "b-dubois", platform.identity.password("b-dubois"))
    await page.goto(f"{workspace}/prets/{missed_loan.loan_id}")
    await page.get_by_label("Montant reçu (obligatoire)", exact=True).fill("90,00")
    await page.get_by_label("Référence de la banque (obligatoire)", exact=True).fill(f"VIR-{missed_loan.loan_id[:8]}")
    await page.get_by_role("button", name="Enregistrer le paiement").click()
    await page.wait_for_url(f"{workspace}/prets/{missed_loan.loan_id}*")
    assert "90,00 €" in await page.inner_text("#titre-paiements + table")
    await page.get_by_label("Accepter", exact=True).check()
    await page.get_by_role("button", name="Répondre").click()
    await page.wait_for_url(f"{workspace}/prets/{missed_loan.loan_id}*")
    assert "Accepté le" in await page.inner_text("#titre-amenagements ~ .amenagement")
    assert "Version 2 de l'échéancier" in await page.inner_text("#titre-echeancier + table caption")
    assert await serious_violations(page) == []
    await bank.close()


async def test_a_failed_check_is_overridden_only_with_a_written_justification(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    # A household whose rent leaves 50 € a month: the reste à vivre check fails.
    application = sample_application(12) | {"charges": {"rent": 130_000}}
    async with httpx.AsyncClient(base_url=platform.urls["intake"], timeout=30) as intake:
        counsellor_api = await platform.bearer(tokens.counsellor())
        draft = (await intake.post("/applications", json=application, headers=counsellor_api)).json()
        assert (await intake.post(f"/applications/{draft['id']}/submission", json={}, headers=counsellor_api)).status_code == 200
    context, page, _ = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))
    await page.goto(f"{workspace}/dossiers/{draft['id']}/instruction")
    deadline = asyncio.get_running_loop().time() + 45
    while not await page.locator("#controle-remaining_per_unit").count():
        assert asyncio.get_running_loop().time() < deadline, "assessment never received the file"
        await asyncio.sleep(0.5)
        await page.reload()
    assert "Non conforme" in await page.inner_text("#controle-remaining_per_unit")

    await page.get_by_label("Résultat (obligatoire)", exact=True).select_option("not_registered")
    await page.get_by_role("button", name="Enregistrer la consultation du FICP").click()
    await page.get_by_label("Favorable : le dossier part à la banque", exact=True).check()
    await page.get_by_label("Votre opinion écrite (obligatoire)", exact=True).fill("Loyer bientôt pris en charge par l'APL : budget tenable.")
    await page.get_by_label("Banque partenaire", exact=True).select_option("credit-mutuel-nord")
    await page.get_by_role("button", name="Enregistrer l'avis").click()

    problem = page.locator("#overrides-remaining_per_unit-probleme")
    assert await problem.inner_text() == "Ce contrôle n'est pas satisfait : justifiez la dérogation ici, ou changez les conditions du prêt."
    assert await page.get_by_label("Votre opinion écrite (obligatoire)", exact=True).input_value() == "Loyer bientôt pris en charge par l'APL : budget tenable."
    assert "À instruire" in await page.inner_text(".statut"), "nothing was recorded"
    assert await serious_violations(page) == []

    justification = page.get_by_label("Justifier la dérogation : Reste à vivre par unité de consommation", exact=True)
    await justification.fill("L'APL de 420 € est notifiée, versée dès le mois prochain : le reste à vivre remonte à 470 €.")
    await page.get_by_role("button", name="Enregistrer l'avis").click()
    await page.wait_for_url(f"{workspace}/dossiers/{draft['id']}/instruction")
    assert "Transmis à la banque" in await page.inner_text(".statut")
    assert "Dérogation" in await page.inner_text("#controle-remaining_per_unit")
    await context.close()
