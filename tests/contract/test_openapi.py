"""Each service's OpenAPI document is what the service does: Schemathesis, every check, a token of each role.

Schemathesis reads the document each service serves, generates valid and invalid requests for every
operation (examples, boundary coverage, random fuzzing, and stateful sequences that follow the links it
infers from responses), and checks every answer: no server error, every status and content type
documented, every body matching its schema, invalid input refused, valid input accepted (or refused
only for a business rule, see `hooks.py`), authentication not ignored. Its JSON report of each run is
kept in `.local/test/schemathesis/` for the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.local.services import REPO_ROOT, SERVICES
from shared.auth import Principal
from tests.e2e.conftest import RunningPlatform
from tests.support import tokens

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
REPORTS = REPO_ROOT / ".local" / "test" / "schemathesis"
ROLES: dict[str, Principal] = {
    "counsellor": tokens.counsellor(),
    "supervisor": tokens.supervisor(),
    "bank": tokens.bank(),
    "ops": tokens.ops(),
    "admin": tokens.admin(),
    "dpo": tokens.dpo(),
}
# Reproducible by default; MC_SCHEMATHESIS_SEED=random (or a number) explores further.
SEED = os.environ.get("MC_SCHEMATHESIS_SEED", "20261130")
MAX_EXAMPLES = os.environ.get("MC_SCHEMATHESIS_EXAMPLES", "5")


SHARED_ROUTES_FUZZED_ON = "intake"
# Each service with every role that acts on it and the others it refuses (their 403s are in the document too);
# the directory's readers all read alike, so one of them stands for the four, beside its administrators; the
# privacy service is the DPO's, the others all refused alike (one of them stands for them).
RUNS = [
    (service, role) for service in SERVICES if service not in ("directory", "privacy") for role in ROLES if role not in ("admin", "dpo")
] + [("directory", "admin"), ("directory", "counsellor"), ("privacy", "dpo"), ("privacy", "counsellor")]


# Schemathesis waits on the service and the service on Schemathesis: one run keeps this 2-core machine about
# 60 % busy, two at once nearly all of it. The runs are started together and each case awaits its own.
RUNS_AT_ONCE = 2


async def _schemathesis(platform: RunningPlatform, service: str, authorization: tuple[str, str], role: str) -> tuple[int | None, str]:
    """Schemathesis on `service` with `role`'s `authorization` header: its exit code and output; its JSON report in REPORTS."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    report = REPORTS / f"{service}-{role}.json"
    report.unlink(missing_ok=True)
    command = [
        str(Path(sys.executable).with_name("st")), "--no-color", "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"{platform.urls[service]}/openapi.json",
        "--header", f"{authorization[0]}: {authorization[1]}",
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", MAX_EXAMPLES, "--workers", "1", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report),
    ]
    if SEED != "random":
        command += ["--seed", SEED]
    if service != SHARED_ROUTES_FUZZED_ON:
        # The dead-letter routes are one implementation (shared/deadletters_api.py) mounted in every service:
        # fuzzed once, on intake, for every role.
        command += ["--exclude-path-regex", "^/operations/dead-letter"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.hooks", "PYTHONPATH": str(REPO_ROOT)}
    process = await asyncio.create_subprocess_exec(
        *command, cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled: the run is not left behind
            process.kill()
            await process.wait()
    return process.returncode, output.decode(errors="replace")


@pytest.fixture(scope="module")
async def runs(platform: RunningPlatform, request: pytest.FixtureRequest) -> AsyncIterator[dict[tuple[str, str], asyncio.Task]]:
    """The runs of the cases selected, RUNS_AT_ONCE at a time, each service beside another service's run."""
    selected = [
        (item.callspec.params["service"], item.callspec.params["role"])
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_the_openapi_document_is_what_the_service_does"
    ]
    gate = asyncio.Semaphore(RUNS_AT_ONCE)

    async def run(service: str, role: str) -> tuple[int | None, str]:
        async with gate:
            [authorization] = (await platform.bearer(ROLES[role])).items()
            return await _schemathesis(platform, service, authorization, role)

    # Role by role, so that the runs going at once are on different services.
    order = sorted(selected, key=lambda run: (list(ROLES).index(run[1]), SERVICES.index(run[0])))
    tasks = {(service, role): asyncio.create_task(run(service, role)) for service, role in order}
    try:
        yield tasks
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


@pytest.mark.parametrize(("service", "role"), RUNS)
async def test_the_openapi_document_is_what_the_service_does(
    runs: dict[tuple[str, str], asyncio.Task], service: str, role: str
) -> None:
    returncode, text = await runs[service, role]

    assert returncode == 0, f"Schemathesis found problems in {service} as {role}:\n{text[-12000:]}"
    assert json.loads((REPORTS / f"{service}-{role}.json").read_text()), "Schemathesis wrote no report"
