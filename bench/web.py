"""Render a counsellor's home page and a loan's page for N people signed in at once: `python -m bench.web`.

    .venv/bin/python -m bench.web [--people 20] [--rounds 10]      # on a running platform (`make run`)

Each person is a counsellor of the Secours Catholique in the Hauts-de-France, created in the realm if
missing, who signs in through Keycloak's own login form (no browser: the same HTTP exchanges). One loan
is walked from submission to its missed-payment alert first; every person then asks for their home page
and that loan's page, `--rounds` times, all people at once. Printed: p50/p95/max per page, beside the raw
ceiling measured in the same run — the workspace's `/health` (no session, no service called) at the
same concurrency — and the loan page's three calls sent straight to servicing with each person's token
(what the services cost, without the workspace).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import httpx

from bench.flow_report import percentile
from deploy.local.identity import LocalIdentity
from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.journey import Credentials, sample_application, walk
from deploy.local.services import WEB, read_manifest
from shared.auth import Principal, Role

LOGIN_FORM = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"')


async def signed_in_client(web: str, username: str, password: str) -> httpx.AsyncClient:
    """An HTTP client holding a workspace session of `username`, signed in on Keycloak's login form."""
    client = httpx.AsyncClient(timeout=60, follow_redirects=True)
    login = await client.get(f"{web}/connexion")
    found = LOGIN_FORM.search(login.text)
    if found is None:
        raise RuntimeError(f"no Keycloak login form at {login.url}")
    # Keycloak marks its cookies Secure; browsers send them to 127.0.0.1 anyway, httpx does not: we do.
    keycloak_cookies = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.path.startswith("/realms/"))
    signed = await client.post(
        html.unescape(found.group(1)), data={"username": username, "password": password, "credentialId": ""},
        headers={"Cookie": keycloak_cookies}, follow_redirects=False,
    )
    home = await client.get(signed.headers.get("location", str(signed.url)))
    if not str(home.url).startswith(web) or home.status_code != 200:
        raise RuntimeError(f"{username} could not sign in: {home.status_code} at {home.url}")
    return client


def _figures(samples: list[float]) -> str:
    p50, p95 = (percentile(samples, q) or 0.0 for q in (50, 95))
    return f"p50 {p50 * 1e3:7.1f} ms   p95 {p95 * 1e3:7.1f} ms   max {max(samples) * 1e3:7.1f} ms   ({len(samples)} pages)"


async def _timed(get: Callable[[], Awaitable[httpx.Response]], samples: list[float]) -> None:
    started = time.perf_counter()
    answer = await get()
    samples.append(time.perf_counter() - started)
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.request.url} answered {answer.status_code}")


async def run(state_dir: Path, people: int, rounds: int) -> None:
    """Sign the people in, then load both pages for all of them at once, `rounds` times."""
    manifest = read_manifest(state_dir / "run" / "platform.json")
    urls = {name: str(info["url"]) for name, info in manifest["services"].items()}
    web = urls.pop(WEB)
    identity = LocalIdentity.of_state_dir(state_dir)
    async with httpx.AsyncClient(timeout=60) as api:
        journey = await walk(api, urls, today=date.today(), credentials=await Credentials.sign_in(identity), application=sample_application(3))
        names = [f"c-bench-{i:02d}" for i in range(people)]
        for name in names:
            await identity.ensure_person(
                Principal(subject=name, role=Role.COUNSELLOR, association_id="secours-catholique", region="hauts-de-france"), api
            )
    clients = [await signed_in_client(web, name, identity.password(name)) for name in names]
    async with httpx.AsyncClient(timeout=60) as api:
        bearers = [await identity.headers(Principal(subject=name, role=Role.COUNSELLOR, association_id="secours-catholique",
                                                    region="hauts-de-france"), api) for name in names]
    servicing = urls["servicing"]
    loan_path = f"/loans/{journey.loan_id}"

    async def services_alone(client: httpx.AsyncClient, bearer: dict[str, str]) -> httpx.Response:
        answers = await asyncio.gather(*(client.get(f"{servicing}{loan_path}{tail}", headers=bearer) for tail in ("", "/payments", "/adjustments")))
        return max(answers, key=lambda answer: answer.status_code)

    home: list[float] = []
    loan: list[float] = []
    ceiling: list[float] = []
    backend: list[float] = []
    try:
        for _ in range(rounds):
            await asyncio.gather(*(_timed(lambda c=c: c.get(f"{web}/health"), ceiling) for c in clients))
            await asyncio.gather(*(_timed(lambda c=c, b=b: services_alone(c, b), backend) for c, b in zip(clients, bearers)))
        for _ in range(rounds):
            await asyncio.gather(*(_timed(lambda c=c: c.get(f"{web}/"), home) for c in clients))
            await asyncio.gather(*(_timed(lambda c=c: c.get(f"{web}/prets/{journey.loan_id}"), loan) for c in clients))
    finally:
        for client in clients:
            await client.aclose()
    print(f"{people} counsellors signed in at once, {rounds} rounds (load {os.getloadavg()[0]:.2f}):")
    print(f"  home page (alerts, files, loans: 3 calls at once) {_figures(home)}")
    print(f"  loan page (loan, payments, adjustments at once)   {_figures(loan)}")
    print(f"  the loan page's 3 calls, straight to servicing    {_figures(backend)}")
    print(f"  ceiling: /health (no session, no service called)  {_figures(ceiling)}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    args = parser.parse_args(argv)
    asyncio.run(run(args.state_dir.resolve(), args.people, args.rounds))


if __name__ == "__main__":
    main()
