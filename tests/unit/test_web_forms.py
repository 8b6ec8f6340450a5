"""What the workspace reads from a form before any service sees it: French amounts, rates, dates, numbers."""

from __future__ import annotations

import httpx
import pytest

from services.web.backends import BackendError, Backends
from services.web.charts import funnel_chart
from services.web.forms import Reading, compact, euros_typed
from services.web.problems import path_errors
from services.web.settings import WebSettings


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("1 250,50", 125050), ("1250.5", 125050), ("1\u202f250 €", 125000), ("480", 48000), ("0,01", 1), ("", None)],
)
def test_an_amount_typed_the_french_way_is_read_in_cents(typed: str, cents: int | None) -> None:
    reading = Reading({"montant": typed})
    assert (reading.cents("montant"), reading.errors) == (cents, {})


@pytest.mark.parametrize("typed", ["douze", "12,345", "-5", "1,2,3", "NaN", "Infinity"])
def test_an_amount_that_is_not_one_is_refused_next_to_its_field(typed: str) -> None:
    reading = Reading({"montant": typed})
    assert reading.cents("montant") is None
    assert reading.errors == {"montant": "Indiquez un montant en euros, par exemple 1 250,50."}


def test_rates_dates_and_whole_numbers() -> None:
    reading = Reading({"taux": "3,5", "jour": "30/11/2026", "iso": "2026-11-30", "mois": "36", "faux": "31/02/2026", "n": "3 ans"})
    assert reading.rate("taux") == "0.035"
    assert reading.day("jour") == reading.day("iso") == "2026-11-30"
    assert reading.whole("mois") == 36
    assert reading.day("faux") is None and reading.whole("n") is None
    assert set(reading.errors) == {"faux", "n"}


def test_what_was_left_empty_is_not_sent_and_an_amount_goes_back_into_its_field() -> None:
    assert compact({"a": None, "b": {"c": None}, "d": [], "e": 0, "f": {"g": "x"}}) == {"e": 0, "f": {"g": "x"}}
    assert (euros_typed(125050), euros_typed(5), euros_typed(None)) == ("1250,50", "0,05", "")


def test_a_services_refusal_lands_next_to_the_field_it_names_in_french() -> None:
    refused = BackendError(422, {"errors": [
        {"field": "amount_cents", "rule": "less_than_equal"}, {"field": "applicant.first_name", "rule": "missing"},
        {"field": "checks.ficp", "rule": "check_failed"},
    ]})
    assert path_errors(refused, {"checks.ficp": "overrides.ficp"}) == {
        "amount_cents": "Le montant va de 300 € à 8 000 €.",
        "applicant.first_name": "Ce champ est à remplir.",
        "overrides.ficp": "Ce contrôle n'est pas satisfait : justifiez la dérogation ici, ou changez les conditions du prêt.",
    }
    assert path_errors(BackendError(409, {"detail": "the file is routed"})) == {
        "": "L'état du dossier ne permet plus cette action : rechargez la page pour voir où il en est."
    }


def test_the_funnel_chart_draws_each_step_against_the_largest_and_says_it_in_words() -> None:
    chart = funnel_chart({"first_contacts": 40, "appointments": 30, "opened": 20, "submitted": 10, "routed": 8, "approved": 4})
    widths = [bar.width for bar in chart.bars]
    assert widths == sorted(widths, reverse=True) and widths[0] == 450 and widths[-1] == 45
    assert [bar.share for bar in chart.bars][-1] == "10 %"
    assert chart.summary.startswith("Premiers contacts : 40 ; Rendez-vous fixés : 30")
    assert [bar.share for bar in funnel_chart({}).bars] == ["—"] * 6


async def test_a_form_sent_twice_waits_for_the_answer_to_its_first_sending() -> None:
    # The first sending of the form is still being handled by intake: the second gets its answer, not an error.
    answers = iter([
        httpx.Response(409, json={"errors": [{"field": "Idempotency-Key", "rule": "idempotency_key_in_use"}]}, headers={"Retry-After": "0"}),
        httpx.Response(201, json={"id": "2d12f154-1331-4cf2-aafb-a00335b3707d"}, headers={"Idempotency-Replayed": "true"}),
    ])
    keys: list[str | None] = []

    def intake(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("Idempotency-Key"))
        return next(answers)

    settings = WebSettings(oidc_issuer="http://127.0.0.1:9/realms/microcredit", oidc_client_secret="s")  # type: ignore[call-arg]
    backends = Backends(settings, transport=httpx.MockTransport(intake))
    form_key = "5b0c9f5e-7a51-4f4e-9a43-0d3f7c1e2b11"

    created = await backends.call("intake", "POST", "/applications", "token", body={"applicant": {}}, once=form_key)
    await backends.aclose()

    assert created == {"id": "2d12f154-1331-4cf2-aafb-a00335b3707d"}
    assert keys == [f'"{form_key}"', f'"{form_key}"']
