"""The README stays true: the commands it shows are the ones CI and the Makefile run, and its event
catalogue is the one the contracts print, with an example of every event type that parses."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from deploy import catalogue
from shared.events import EVENT_CLASSES, parse_event

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
CI_RUN = REPO_ROOT / ".ci" / "run"


def _examples() -> dict[str, str]:
    """Every fenced JSON block of the README that is an event, by its type."""
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(), flags=re.S)
    return {json.loads(b)["type"]: b for b in blocks if '"specversion"' in b}


@pytest.mark.parametrize("event_cls", EVENT_CLASSES, ids=lambda c: c.event_type())
def test_the_catalogue_documents_every_event_with_an_example_that_parses(event_cls: type) -> None:
    examples = _examples()

    assert event_cls.event_type() in examples, f"README lacks an example of {event_cls.event_type()}"
    assert isinstance(parse_event(examples[event_cls.event_type()]), event_cls)


def test_the_readme_prints_the_catalogue_the_contracts_give() -> None:
    text = README.read_text()
    shown = text[text.index(catalogue.START) + len(catalogue.START) : text.index(catalogue.END)]

    assert shown.strip() == catalogue.render().strip(), "run: python -m deploy.catalogue --write README.md"


def _sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def _commands(block: str) -> list[str]:
    """The commands of a shell block, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in block.splitlines())
    return [line for line in lines if line]


def _two_commands() -> tuple[str, str]:
    """The run and test commands of the README's "The two commands" section (its first sh block)."""
    section = README.read_text().split("## The two commands", 1)[1].split("\n## ", 1)[0]
    run, test = _commands(_sh_blocks(section)[0])
    return run, test


def _dry_run(command: str) -> list[str]:
    """What `make` would execute for a `make <target>` command, without running it."""
    argv = shlex.split(command)
    assert argv[0] == "make", f"{command!r} is not a make command"
    # --no-print-directory: under `make test` itself this make is nested and would announce its directory.
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", *argv[1:]], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{command!r}: {done.stderr}"
    return done.stdout.splitlines()


def test_ci_runs_exactly_the_test_command_the_readme_shows() -> None:
    _, test = _two_commands()
    ci = [line for line in _commands(CI_RUN.read_text()) if not line.startswith(("set ", "cd "))]

    assert ci == [test]


def test_the_readme_test_command_runs_every_test() -> None:
    _, test = _two_commands()

    # pytest with no selection: every test under the configured testpaths (unit, integration, e2e, contract).
    assert _dry_run(test)[-1].endswith("python -m pytest")


def test_the_readme_run_command_is_the_target_that_starts_the_platform() -> None:
    run, _ = _two_commands()

    assert _dry_run(run)[-1].endswith("-m deploy.local.platform up")


def test_every_make_command_the_readme_shows_is_a_makefile_target() -> None:
    shown = {
        match.group(1)
        for block in _sh_blocks(README.read_text())
        for match in re.finditer(r"\bmake (?:-s )?([a-z][a-z-]*)", block)
    }

    assert {"run", "test", "status", "token"} <= shown
    for target in sorted(shown):
        _dry_run(f"make {target}")
