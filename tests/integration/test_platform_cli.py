"""The platform's commands as a person types them: `make token ARGS=--help`, `make status`, ports already taken."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from deploy.local import REPO_ROOT
from shared.french import day
from shared.usury import UsuryTable

pytestmark = pytest.mark.integration


def _make(target: str, state_dir: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    """Run `make -s <target>` in the checkout with the platform's state in ``state_dir``."""
    return subprocess.run(
        ["make", "-s", target, *variables],
        cwd=REPO_ROOT,
        env={**os.environ, "MC_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_token_help_lists_the_token_options(tmp_path: Path) -> None:
    done = _make("token", tmp_path, "ARGS=--help")

    assert done.returncode == 0, done.stderr
    for option in ("--role", "--sub", "--association", "--region", "--bank", "--hours"):
        assert option in done.stdout
    assert "counsellor,supervisor,bank,ops" in done.stdout
    assert "{up,down,status" not in done.stdout, "the platform's own usage instead of the token options"


def test_make_token_still_issues_a_token(tmp_path: Path) -> None:
    done = _make("token", tmp_path, "ARGS=--role ops --sub ops-durand")

    assert done.returncode == 0, done.stderr
    header, payload, signature = done.stdout.strip().split(".")
    assert header and payload and signature


def test_make_status_with_nothing_running_says_so_and_succeeds(tmp_path: Path) -> None:
    done = _make("status", tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    first, usury = done.stdout.splitlines()
    assert first.startswith("nothing is running")
    freshness = UsuryTable.load().freshness(date.today())
    assert usury.startswith("usury caps")
    assert ("out of date" in usury) == freshness.out_of_date
    assert day(freshness.current_quarter) in usury
