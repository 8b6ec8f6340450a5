"""The DPO serves a person's right of access: she finds the person in the workspace, and the export she downloads —
JSON and PDF in French — holds what every service keeps about that file and nothing about anyone else.

Two people have a full history on the shared platform (file, assessment, bank approval, loan disbursed,
alerts); the DPO exports one of them. The services' access route is the DPO's alone.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Browser, Download

from deploy.local.journey import Credentials, sample_application, walk
from tests.e2e.conftest import RunningPlatform, eventually
from tests.e2e.web.support import SCREENS, serious_violations, sign_in
from tests.support import tokens
from tests.support.pdf import text

pytestmark = pytest.mark.e2e

HOLDERS = ("intake", "assessment", "directory", "servicing", "notifications")


def _person(last_name: str) -> dict[str, Any]:
    application = sample_application()
    application["applicant"] = {**application["applicant"], "first_name": "Inès", "last_name": last_name, "birth_date": "1991-03-08"}
    return application


async def _downloaded(download: Download) -> bytes:
    """The bytes of the file the browser downloaded."""
    return Path(await download.path()).read_bytes()


async def test_the_dpo_exports_everything_every_service_holds_about_one_person_and_nothing_about_another(
    platform: RunningPlatform, workspace: str, browser: Browser
) -> None:
    mine, other = f"Vasseur-{uuid4().hex[:6]}", f"Vasseur-{uuid4().hex[:6]}"
    people = await Credentials.sign_in(platform.identity)
    async with httpx.AsyncClient(timeout=30) as client:
        journeys = await asyncio.gather(*(
            walk(client, platform.urls, today=date.today(), credentials=people, application=_person(name), close_of_business=False)
            for name in (mine, other)
        ))
    subject, stranger = journeys

    # The DPO finds the person by name (any case) and birth date: one file, not the other Inès born the same day.
    context, page, _ = await sign_in(browser, workspace, "dpo-lambert", platform.identity.password("dpo-lambert"))
    await page.get_by_role("link", name="Droits des personnes").click()
    await page.get_by_label("Nom ou prénom", exact=True).fill(f"inès {mine.lower()}")
    await page.get_by_label("Date de naissance", exact=True).fill("1991-03-08")
    await page.get_by_role("button", name="Rechercher").click()
    results = page.locator("table tbody tr")
    assert await results.count() == 1
    assert "08/03/1991" in await results.first.inner_text()
    await page.get_by_role("link", name=f"Inès {mine}").click()
    await page.wait_for_url(f"{workspace}/protection-des-donnees/{subject.application_id}")
    assert await serious_violations(page) == []
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENS / "droits-des-personnes.png"), full_page=True)

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Télécharger l'export (JSON)").click()
    export = json.loads(await _downloaded(await downloading.value))
    assert export["subject_id"] == subject.application_id and export["exported_by"] == "dpo-lambert"
    services = export["services"]
    assert sorted(services) == sorted(HOLDERS)
    for service in HOLDERS:
        assert any(services[service].values()), f"{service} contributed nothing"
    [file] = services["intake"]["applications"]
    assert (file["applicant"]["last_name"], file["applicant"]["birth_date"]) == (mine, "1991-03-08")
    assert [loan["id"] for loan in services["servicing"]["loans"]] == [subject.loan_id]
    assert services["directory"]["routed_files"][0]["bank_id"] == "credit-mutuel-nord"
    alerts = services["notifications"]["alerts"]
    assert {a["cause_type"] for a in alerts} == {"fr.microcredit.loan.approved.v1", "fr.microcredit.loan.disbursed.v1"}
    assert all(a["application_id"] == subject.application_id or a["loan_id"] == subject.loan_id for a in alerts)
    said = json.dumps(export, ensure_ascii=False)
    for about_another in (stranger.application_id, stranger.loan_id, other):
        assert about_another not in said

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Télécharger l'export (PDF)").click()
    pdf = await _downloaded(await downloading.value)
    assert pdf.startswith(b"%PDF-")
    read = " ".join(text(pdf).split())
    assert f"Données personnelles — Inès {mine}" in read
    assert "Personne › Date de naissance : 08/03/1991" in read and "Montant : 3 000,00 €" in read  # split() took the narrow space
    assert "Prêt et remboursements (servicing)" in read and other not in read

    # Her loan runs: the privacy service refuses the erasure, and the DPO reads why, in French.
    dpo = await platform.bearer(tokens.dpo())
    async with httpx.AsyncClient(timeout=30) as client:
        async def ledger_knows_the_loan() -> bool:
            found = await client.get(f"{platform.urls['privacy']}/v1/subjects/{subject.application_id}", headers=dpo)
            return found.status_code == 200 and found.json()["status"] == "active"

        await eventually(ledger_knows_the_loan, what="the privacy ledger to learn the disbursement")
    await page.get_by_role("button", name="Demander l'effacement").click()
    assert (await page.locator("#raison-legale").inner_text()).startswith("Tant que le prêt court")
    said = await page.locator("#titre-demandes + dl").inner_text()
    assert "Prêt en cours de remboursement" in said and "Règle de conservation\nPrêt en cours" in said
    await context.close()


async def test_only_the_dpo_reads_what_a_service_holds_about_a_person(platform: RunningPlatform, workspace: str, browser: Browser) -> None:
    counsellor = await platform.bearer(tokens.counsellor())
    subject = uuid4()
    async with httpx.AsyncClient(timeout=30) as client:
        for service in HOLDERS:
            url = f"{platform.urls[service]}/v1/privacy/subjects/{subject}"
            refused = await client.get(url, headers=counsellor)
            assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json", service
            assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("role", "forbidden_role")]
            assert (await client.get(url)).status_code == 401, service
        search = await client.get(f"{platform.urls['intake']}/v1/privacy/subjects", params={"name": "Vasseur"}, headers=counsellor)
        assert search.status_code == 403

    # In the workspace, the counsellor has the information notice to hand out, not the DPO's pages.
    context, page, _ = await sign_in(browser, workspace, "c-lefebvre", platform.identity.password("c-lefebvre"))
    answer = await page.goto(f"{workspace}/protection-des-donnees")
    assert answer is not None and answer.status == 403 and "Accès refusé" in await page.inner_text("main")
    await page.get_by_role("link", name="Notice d'information").click()
    assert await page.inner_text("h1") == "Vos données personnelles et le microcrédit accompagné"
    assert "Conservées 6 mois" in await page.inner_text("main")
    assert await serious_violations(page) == []
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Télécharger la notice (PDF) pour la remettre à la personne").click()
    notice = await _downloaded(await downloading.value)
    assert notice.startswith(b"%PDF-") and "Conservées 5 ans" in " ".join(text(notice).split())
    await context.close()
