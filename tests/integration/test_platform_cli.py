"""The platform's commands as a person types them: `make token ARGS=--help`, `make status`, ports already taken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import jwt
import pytest

from deploy.local import REPO_ROOT
from deploy.local.identity import LocalIdentity
from deploy.local.platform import PREFERRED_PORTS, print_addresses
from deploy.local.ports import LOOPBACK, choose_ports, find_free_ports, is_port_free
from shared.french import day
from shared.usury import UsuryTable
from tests.support.infra import local_state_dir

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


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A socket listening on a free loopback port, as another program holding 8002 would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield sock


def test_make_token_help_lists_the_token_options(tmp_path: Path) -> None:
    done = _make("token", tmp_path, "ARGS=--help")

    assert done.returncode == 0, done.stderr
    for option in ("--role", "--sub", "--association", "--region", "--bank"):
        assert option in done.stdout
    assert "counsellor,supervisor,bank,ops,admin" in done.stdout
    assert "{up,down,status" not in done.stdout, "the platform's own usage instead of the token options"


def test_make_token_asks_keycloak_for_a_demo_persons_token(keycloak: LocalIdentity) -> None:
    done = _make("token", local_state_dir(), "ARGS=--role ops --sub ops-durand")

    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), options={"verify_signature": False})
    assert (claims["iss"], claims["preferred_username"], claims["role"]) == (keycloak.issuer, "ops-durand", "ops")
    assert jwt.get_unverified_header(done.stdout.strip())["alg"] == "RS256"


def test_make_token_gives_a_banks_systems_their_clients_token(keycloak: LocalIdentity) -> None:
    done = _make("token", local_state_dir(), "ARGS=--role bank --bank la-banque-postale")

    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), options={"verify_signature": False})
    assert (claims["azp"], claims["role"], claims["bank_id"]) == ("bank-la-banque-postale", "bank", "la-banque-postale")


def test_make_token_without_a_running_keycloak_says_so(tmp_path: Path) -> None:
    done = _make("token", tmp_path, "ARGS=--role ops --sub ops-durand")

    assert done.returncode != 0
    assert "no token" in done.stderr and "make run" in done.stderr


def test_make_status_with_nothing_running_says_so_and_succeeds(tmp_path: Path) -> None:
    done = _make("status", tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    first, usury = done.stdout.splitlines()
    assert first.startswith("nothing is running")
    freshness = UsuryTable.load().freshness(date.today())
    assert usury.startswith("usury caps")
    assert ("out of date" in usury) == freshness.out_of_date
    assert day(freshness.current_quarter) in usury


def test_a_taken_port_is_replaced_by_a_free_one_and_said(listening: socket.socket) -> None:
    taken = listening.getsockname()[1]
    (free,) = find_free_ports(1)

    choice = choose_ports({"assessment": taken, "servicing": free})

    moved_to = choice.ports["assessment"]
    assert moved_to not in (taken, free) and is_port_free(moved_to)
    assert choice.ports["servicing"] == free
    assert choice.messages() == [f"port {taken} is taken: assessment listens on {moved_to} instead"]


def test_free_preferred_ports_are_kept_and_nothing_is_said() -> None:
    preferred = dict(zip(("intake", "zipkin"), find_free_ports(2), strict=True))

    choice = choose_ports(preferred)

    assert choice.ports == preferred and choice.messages() == []


def test_the_addresses_printed_at_the_end_say_which_port_was_taken(capsys: pytest.CaptureFixture[str]) -> None:
    urls = {name: f"http://127.0.0.1:{port}" for name, port in PREFERRED_PORTS.items()}
    urls["assessment"] = "http://127.0.0.1:41234"
    manifest: dict[str, object] = {
        "kafka": "127.0.0.1:39092",
        "postgres": "postgresql://postgres@127.0.0.1:35432/postgres",
        "zipkin": "http://127.0.0.1:9411",
        "services": {name: {"url": url} for name, url in urls.items()},
        "moved_ports": {"assessment": [8002, 41234]},
        "keycloak": {"url": "http://127.0.0.1:8180", "issuer": "http://127.0.0.1:8180/realms/microcredit", "secrets_file": "/nonexistent"},
    }

    print_addresses(manifest)

    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert "http://127.0.0.1:41234" in lines["assessment"] and "(8002 was taken)" in lines["assessment"]
    assert "was taken" not in lines["intake"]
    assert lines["zipkin"].split()[1] == "http://127.0.0.1:9411/zipkin/"


def test_the_demo_people_are_printed_with_their_name_role_group_and_generated_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"MC_PASSWORD_C_LEFEBVRE": "pw-claire", "MC_PASSWORD_B_PETIT": "pw-nathalie", "MC_SECRET_X": "s"}))
    manifest: dict[str, object] = {
        "kafka": "127.0.0.1:39092", "postgres": "postgresql://postgres@127.0.0.1:35432/postgres",
        "zipkin": "http://127.0.0.1:9411", "services": {},
        "keycloak": {"url": "http://127.0.0.1:8180", "issuer": "http://127.0.0.1:8180/realms/microcredit", "secrets_file": str(secrets)},
    }

    print_addresses(manifest)

    people = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if " — " in line}
    assert people["c-lefebvre"].split() == [
        "c-lefebvre", "pw-claire", "Claire", "Lefebvre", "—", "counsellor", "—", "secours-catholique", "/", "hauts-de-france"
    ]
    assert people["b-petit"].split() == ["b-petit", "pw-nathalie", "Nathalie", "Petit", "—", "bank", "—", "la-banque-postale"]
    assert set(people) == {"c-lefebvre", "b-petit"}, "only the people whose password was generated"
