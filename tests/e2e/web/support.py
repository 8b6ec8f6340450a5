"""What the browser tests share: signing in on Keycloak's page, axe-core, screenshots, waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page

from deploy.local import REPO_ROOT

AXE = (REPO_ROOT / "services" / "web" / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
# Where the screenshots the README shows are written (copied into docs/screens/ when they change).
SCREENS = REPO_ROOT / ".local" / "test" / "screens"
NARROW_NBSP = "\u202f"


async def sign_in(browser: Browser, workspace: str, username: str, password: str) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh browser whose person signs in on Keycloak's own page; the console messages it logs."""
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    await page.goto(f"{workspace}/")
    assert "/realms/microcredit/protocol/openid-connect/auth" in page.url, "not sent to Keycloak's sign-in page"
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#kc-login")
    await page.wait_for_url(f"{workspace}/**")
    return context, page, console


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of WCAG 2.1 A/AA on the page as it is now."""
    await page.evaluate(AXE)
    found = await page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def csp_errors(console: list[str]) -> list[str]:
    """Console lines a Content-Security-Policy refusal or a script error wrote (a page answered 4xx on purpose is neither)."""
    return [m for m in console if "Content Security Policy" in m or (m.startswith("error") and "Failed to load resource" not in m)]


async def eventually_value(probe: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """The probe's first answer that is not None."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := probe()) is None:
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)
    return found
