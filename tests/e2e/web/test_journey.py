"""A loan from the first form to the first missed instalment, every step in the browser, each person on their own page.

The counsellor builds the file (a bad amount first: said next to the field, what she typed kept, nothing saved),
records the documents, submits it, records the FICP and a favourable outcome for a partner bank; the bank
officer approves and disburses; ops run the close of business of the first due date; the counsellor sees the
missed-payment alert and acknowledges it. A counsellor of another association and another bank reach none of
it. axe-core checks every page on the way.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.e2e.conftest import RunningPlatform
from tests.e2e.web.support import NARROW_NBSP, SCREENS, csp_errors, serious_violations, sign_in
from tests.support import tokens

pytestmark = pytest.mark.e2e

LAST_NAME = f"Journée-{uuid4().hex[:6]}"


async def accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    assert await serious_violations(page) == [], page.url


async def reload_until(page: Page, text: str, timeout: float = 45.0) -> None:
    """Reload the page until `text` shows (a step another service makes from an event)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while text not in await page.inner_text("main"):
        assert asyncio.get_running_loop().time() < deadline, f"« {text} » never showed on {page.url}"
        await asyncio.sleep(0.5)
        await page.reload()


async def test_a_loan_from_the_first_form_to_the_missed_instalment_alert_in_the_browser(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    today = date.today()
    first_due = today + timedelta(days=31)  # a day no other test of the shared platform closes
    identity = platform.identity

    # The counsellor opens the file with the person in front of her; 12 000 € is beyond what a microcredit lends.
    counsellor, page, console = await sign_in(browser, workspace, "c-lefebvre", identity.password("c-lefebvre"))
    await page.get_by_role("link", name="Nouveau dossier").click()
    await accessible(page)
    await page.get_by_label("Prénom (obligatoire)", exact=True).fill("Inès")
    await page.get_by_label("Nom (obligatoire)", exact=True).fill(LAST_NAME)
    await page.get_by_label("Date de naissance", exact=True).fill("1991-03-08")
    await page.get_by_label("Téléphone", exact=True).fill("06 11 22 33 44")
    await page.get_by_label("Adresse", exact=True).fill("3 rue de la Gare")
    await page.get_by_label("Code postal", exact=True).fill("62300")
    await page.get_by_label("Commune", exact=True).fill("Lens")
    await page.get_by_label("Nombre d'adultes", exact=True).fill("1")
    await page.get_by_label("Salaire", exact=True).fill("1 310,00")
    await page.get_by_label("Loyer", exact=True).fill("480")
    await page.get_by_label("Énergie (électricité, gaz)", exact=True).fill("85,50")
    await page.get_by_label("Projet", exact=True).select_option("vehicle")
    await page.get_by_label("Le projet en quelques mots", exact=True).fill("Voiture d'occasion pour un CDI d'aide-soignante à 30 km, horaires décalés")
    await page.get_by_label("Fournisseur (garage, organisme de formation…)", exact=True).fill("Garage du Centre, Lens")
    await page.get_by_label("Montant du devis", exact=True).fill("3 900")
    await page.get_by_label("Montant demandé", exact=True).fill("12 000")
    await page.get_by_label("Durée en mois", exact=True).fill("36")
    await page.get_by_label("Qui a orienté la personne", exact=True).select_option("ccas")
    await page.get_by_role("button", name="Ouvrir le dossier").click()

    assert await page.locator("#amount_cents-probleme").inner_text() == "Le montant va de 300 € à 8 000 €."
    assert await page.get_by_label("Montant demandé", exact=True).get_attribute("aria-invalid") == "true"
    assert await page.get_by_label("Montant demandé", exact=True).input_value() == "12 000"
    assert await page.get_by_label("Loyer", exact=True).input_value() == "480"
    assert await page.get_by_label("Nom (obligatoire)", exact=True).input_value() == LAST_NAME
    await accessible(page)
    async with httpx.AsyncClient(base_url=platform.urls["intake"], timeout=30) as intake:
        mine = (await intake.get("/applications", params={"limit": 500}, headers=await platform.bearer(tokens.counsellor()))).json()
    assert not [f for f in mine if LAST_NAME in (f.get("applicant_name") or "")], "a refused file was saved"

    await page.get_by_label("Montant demandé", exact=True).fill("3 000")
    await page.get_by_role("button", name="Ouvrir le dossier").click()
    await page.wait_for_url(f"{workspace}/dossiers/*")
    application_id = page.url.rsplit("/", 1)[-1]
    assert await page.inner_text("h1") == f"Dossier de Inès {LAST_NAME}"
    main = await page.inner_text("main")
    assert f"1{NARROW_NBSP}310,00 €" in main and "565,50 €" in main and "Brouillon" in main
    await accessible(page)

    # Every document asked for is verified, then the file goes to assessment.
    await page.get_by_role("link", name="Compléter le dossier").click()
    documents = page.locator("select[name^='documents.']")
    for i in range(await documents.count()):
        await documents.nth(i).select_option("verified")
    await accessible(page)
    await page.get_by_role("button", name="Enregistrer le dossier").click()
    await page.wait_for_url(f"{workspace}/dossiers/{application_id}")
    assert "Toutes les pièces demandées sont là." in await page.inner_text("main")
    await page.get_by_role("button", name="Transmettre le dossier").click()
    await page.wait_for_url(f"{workspace}/dossiers/{application_id}/instruction")
    await reload_until(page, "Le budget, chaque mois")
    diagnostic = await page.inner_text("#titre-diagnostic + table")
    assert "Reste à vivre après la mensualité" in diagnostic and "Mensualité du prêt" in diagnostic
    assert "Non conforme" in await page.inner_text("#controle-ficp"), "the FICP is not consulted yet"
    await accessible(page)

    await page.get_by_label("Résultat (obligatoire)", exact=True).select_option("not_registered")
    await page.get_by_label("Référence de la consultation", exact=True).fill(f"FICP-{today:%Y%m%d}-WEB")
    await page.get_by_role("button", name="Enregistrer la consultation du FICP").click()
    await page.wait_for_url(f"{workspace}/dossiers/{application_id}/instruction*")
    assert "Conforme" in await page.inner_text("#controle-ficp")
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "diagnostic-et-avis.png"), full_page=True)
    await page.get_by_label("Favorable : le dossier part à la banque", exact=True).check()
    await page.get_by_label("Votre opinion écrite (obligatoire)", exact=True).fill("Projet d'insertion solide : le véhicule permet de tenir le CDI.")
    await page.get_by_label("Banque partenaire", exact=True).select_option(label="Crédit Mutuel Nord Europe")
    await page.get_by_role("button", name="Enregistrer l'avis").click()
    await page.wait_for_url(f"{workspace}/dossiers/{application_id}/instruction")
    assert "Transmis à la banque" in await page.inner_text(".statut")
    await accessible(page)
    assert not csp_errors(console), console

    # The bank officer approves with the first instalment in 30 days, then disburses to the garage.
    bank, bank_page, _ = await sign_in(browser, workspace, "b-dubois", identity.password("b-dubois"))
    await bank_page.get_by_role("link", name=f"Inès {LAST_NAME}").click()
    await bank_page.wait_for_url(f"{workspace}/banque/dossiers/{application_id}")
    assert "Reste à vivre" not in await bank_page.inner_text("main"), "the bank sees the social diagnostic"
    await accessible(bank_page)
    await bank_page.get_by_label("Accorder le prêt", exact=True).check()
    await bank_page.get_by_label("Première échéance le", exact=True).fill(first_due.isoformat())
    await bank_page.get_by_role("button", name="Enregistrer la décision").click()
    await bank_page.wait_for_url(f"{workspace}/banque/dossiers/{application_id}")
    await reload_until(bank_page, "Prêt de 3")
    await bank_page.get_by_role("link", name=f"Prêt de 3{NARROW_NBSP}000,00 € sur 36 mois").click()
    loan_id = bank_page.url.rsplit("/", 1)[-1]
    await bank_page.get_by_label("Versé à (obligatoire)", exact=True).fill("Garage du Centre SARL")
    await accessible(bank_page)
    await bank_page.get_by_role("button", name="Confirmer le décaissement").click()
    await bank_page.wait_for_url(f"{workspace}/prets/{loan_id}*")
    assert "En cours" in await bank_page.inner_text(".statut")
    await accessible(bank_page)
    await bank.close()

    # Ops close the day of the first instalment, which nobody paid.
    ops, ops_page, _ = await sign_in(browser, workspace, "ops-durand", identity.password("ops-durand"))
    await ops_page.get_by_role("link", name="Clôture du jour").click()
    await accessible(ops_page)
    await ops_page.get_by_label("Journée à clôturer (obligatoire)", exact=True).fill(first_due.isoformat())
    await ops_page.get_by_role("button", name="Lancer la clôture").click()
    await ops_page.locator(".cloture-terminee").wait_for(timeout=60_000)
    assert "1 échéance impayée" in await ops_page.inner_text(".cloture-terminee")
    assert await ops_page.locator("progress").get_attribute("value") == await ops_page.locator("progress").get_attribute("max")
    await ops_page.screenshot(path=str(SCREENS / "cloture-du-jour.png"), full_page=True)
    await accessible(ops_page)
    await ops.close()

    # The counsellor sees the missed instalment among her alerts and takes it in hand.
    await page.goto(f"{workspace}/alertes?statut=open")
    row = page.locator("tr", has=page.locator(f"a[href='/prets/{loan_id}']")).filter(has_text="impayée")
    deadline = asyncio.get_running_loop().time() + 45
    while not await row.count():
        assert asyncio.get_running_loop().time() < deadline, "the missed-instalment alert never reached the inbox"
        await asyncio.sleep(0.5)
        await page.reload()
    await row.get_by_role("button", name="Prendre en compte").click()
    await row.locator(".etat").filter(has_text="Pris en compte").wait_for()
    await accessible(page)
    await counsellor.close()

    # Another association's counsellor, and another bank, get the page an unknown address gets.
    other, other_page, _ = await sign_in(browser, workspace, "c-garcia", identity.password("c-garcia"))
    for address in (f"/dossiers/{application_id}", f"/dossiers/{application_id}/instruction", f"/dossiers/{application_id}/modifier",
                    f"/prets/{loan_id}"):
        answer = await other_page.goto(f"{workspace}{address}")
        assert answer is not None and answer.status == 404 and "Page introuvable" in await other_page.inner_text("main"), address
    await other.close()
    rival, rival_page, _ = await sign_in(browser, workspace, "b-petit", identity.password("b-petit"))
    for address in (f"/banque/dossiers/{application_id}", f"/prets/{loan_id}"):
        answer = await rival_page.goto(f"{workspace}{address}")
        assert answer is not None and answer.status == 404, address
    await rival.close()
