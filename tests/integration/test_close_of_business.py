"""The close of business on the real database: missed instalments, delinquency stages, write-offs, idempotency.

The loans are Nadia Benali's kind: 3,000 € at 3.5 % over 36 months, 87.91 € on the 5th of each month
from 5 April 2026; the relay is parked, so the events stay in the outbox for the test to read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from services.servicing import domain, usecases
from services.servicing.domain import loan_id_for
from services.servicing.metrics import CloseOfBusinessMetrics, day_timestamp
from services.servicing.repository.close_of_business import STAGE_CASE
from shared.events import DelinquencyStageChanged, LoanWrittenOff, PaymentMissed, Topics, parse_event
from shared.events.envelope import Envelope
from shared.events.vocabulary import DelinquencyStage
from shared.money import round_cents
from tests.integration.conftest import TODAY, RunningService, loan_approved, run_service
from tests.support import tokens
from tests.support.tokens import bearer

pytestmark = pytest.mark.integration

BANK = bearer(tokens.bank())
OPS = bearer(tokens.ops())
APRIL_5 = date(2026, 4, 5)
INSTALMENT = 8_791
MISSED = PaymentMissed.event_type()
STAGE = DelinquencyStageChanged.event_type()
WRITTEN_OFF = LoanWrittenOff.event_type()


@pytest.fixture
async def servicing(database: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningService]:
    """Servicing with a small chunk size, so that even these few loans span several chunks."""
    monkeypatch.setenv("SERVICING_COB_CHUNK_SIZE", "2")
    async with run_service("servicing", database) as service:
        yield service


async def open_loan(service: RunningService, **terms: Any) -> UUID:
    """An approved and disbursed loan."""
    approval = loan_approved(**terms)
    await service.deliver(approval)
    loan_id = loan_id_for(approval.data.application_id)
    disbursed = await service.http.post(
        f"/loans/{loan_id}/disbursement", json={"disbursed_on": TODAY.isoformat(), "payee": "Garage Dupont, Lens"}, headers=BANK
    )
    assert disbursed.status_code == 200, disbursed.text
    return loan_id


async def close(service: RunningService, business_date: date) -> dict[str, Any]:
    """Run the close of business as ops, the clock at the end of that day."""
    service.clock.instant = datetime.combine(business_date, datetime.min.time(), UTC).replace(hour=22)
    response = await service.http.post("/close-of-business", json={"business_date": business_date.isoformat()}, headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()


async def pay(service: RunningService, loan_id: UUID, cents: int, on: date, reference: str) -> None:
    """The bank reports a repayment received on `on`."""
    service.clock.instant = datetime.combine(on, datetime.min.time(), UTC).replace(hour=12)
    body = {"bank_reference": reference, "amount_cents": cents, "received_on": on.isoformat()}
    response = await service.http.post(f"/loans/{loan_id}/payments", json=body, headers=BANK)
    assert response.status_code == 201, response.text


async def events(service: RunningService, event_type: str | None = None) -> list[Envelope[Any]]:
    """The events in the outbox, in publication order, parsed as any consumer would."""
    rows = await service.fetch("select event_type, topic, key, payload from outbox order by id")
    parsed = []
    for row in rows:
        event = parse_event(bytes(row["payload"]))
        assert (event.type, event.topic, event.subject) == (row["event_type"], row["topic"], row["key"])
        parsed.append(event)
    return [e for e in parsed if event_type is None or e.type == event_type]


async def loan_row(service: RunningService, loan_id: UUID) -> dict[str, Any]:
    [row] = await service.fetch(
        "select status, days_past_due, delinquency_stage, arrears_cents, written_off_on, principal_outstanding_cents"
        " from loans where id = $1",
        loan_id,
    )
    return dict(row)


async def test_the_stage_the_run_writes_is_the_stage_the_shared_vocabulary_names(servicing: RunningService) -> None:
    days = [0, 1, 30, 31, 60, 61, 90, 91, 400]

    rows = await servicing.fetch(f"select {STAGE_CASE} as stage from unnest($1::int[]) as d(days_past_due)", days)

    assert [r["stage"] for r in rows] == [DelinquencyStage.of(d) for d in days] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+",
    ]


async def test_an_unpaid_instalment_is_missed_at_the_close_of_its_due_date_once(servicing: RunningService) -> None:
    loan_id = await open_loan(servicing)

    assert (await close(servicing, date(2026, 4, 4)))["missed_instalments"] == 0
    first = await close(servicing, APRIL_5)
    again = await close(servicing, date(2026, 4, 6))
    may = await close(servicing, date(2026, 5, 5))

    assert (first["missed_instalments"], again["missed_instalments"], may["missed_instalments"]) == (1, 0, 1)
    missed = await events(servicing, MISSED)
    assert [(e.data.instalment_number, e.data.due_date, e.data.business_date) for e in missed] == [
        (1, APRIL_5, APRIL_5), (2, date(2026, 5, 5), date(2026, 5, 5)),
    ]
    assert missed[0].data.amount_due_cents == missed[0].data.amount_unpaid_cents == INSTALMENT
    assert missed[0].subject == str(loan_id) and missed[0].topic == Topics.LOANS
    recorded = await servicing.fetch("select number, business_date from missed_instalments order by number")
    assert [(r["number"], r["business_date"]) for r in recorded] == [(1, APRIL_5), (2, date(2026, 5, 5))]
    lines = await servicing.fetch("select number, missed_on from instalments where missed_on is not null order by number")
    assert [(r["number"], r["missed_on"]) for r in lines] == [(1, APRIL_5), (2, date(2026, 5, 5))]


async def test_grace_days_delay_the_missed_payment(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICING_GRACE_DAYS", "3")
    async with run_service("servicing", database) as servicing:
        await open_loan(servicing)

        within_grace = await close(servicing, date(2026, 4, 7))
        after_grace = await close(servicing, date(2026, 4, 8))

        assert within_grace["missed_instalments"] == 0
        assert after_grace["missed_instalments"] == 1
        [missed] = await events(servicing, MISSED)
        assert (missed.data.due_date, missed.data.business_date) == (APRIL_5, date(2026, 4, 8))
        # Days past due count from the due date itself: the grace only holds back the `payment missed`.
        [stage] = await events(servicing, STAGE)
        assert (stage.data.business_date, stage.data.days_past_due, stage.data.stage) == (date(2026, 4, 7), 2, "1-30")


async def test_a_second_run_for_the_same_date_changes_nothing(servicing: RunningService) -> None:
    for _ in range(5):
        await open_loan(servicing)
    first = await close(servicing, date(2026, 5, 6))
    state = await servicing.fetch("select * from loans order by id"), await servicing.fetch("select * from instalments order by loan_id, number")
    outbox = await events(servicing)

    second = await close(servicing, date(2026, 5, 6))

    assert (first["missed_instalments"], first["stage_changes"], first["chunks"]) == (10, 5, 3)
    assert (second["missed_instalments"], second["stage_changes"], second["written_off"]) == (0, 0, 0)
    assert second["loans_visited"] == 5  # it looked again, and found everything done
    assert await events(servicing) == outbox
    assert (await servicing.fetch("select * from loans order by id"), await servicing.fetch(
        "select * from instalments order by loan_id, number"
    )) == state
    [run] = await servicing.fetch("select passes, missed, stage_changes, finished_at from cob_runs")
    assert (run["passes"], run["missed"], run["stage_changes"]) == (2, 10, 5) and run["finished_at"] is not None


async def test_a_stage_change_is_an_event_and_only_a_change_is(servicing: RunningService) -> None:
    loan_id = await open_loan(servicing)

    await close(servicing, APRIL_5)  # missed the same day: 0 days past due, still current
    assert (await loan_row(servicing, loan_id))["delinquency_stage"] == "current"
    await close(servicing, date(2026, 4, 6))
    await close(servicing, date(2026, 4, 20))
    mid_april = await loan_row(servicing, loan_id)
    await close(servicing, date(2026, 5, 6))
    await pay(servicing, loan_id, 2 * INSTALMENT, date(2026, 5, 7), "PRLV-2026-05-07-0001")
    await close(servicing, date(2026, 5, 7))

    changes = [(e.data.previous_stage, e.data.stage, e.data.days_past_due, e.data.arrears_cents, e.data.business_date)
               for e in await events(servicing, STAGE)]
    assert changes == [
        ("current", "1-30", 1, INSTALMENT, date(2026, 4, 6)),
        ("1-30", "31-60", 31, 2 * INSTALMENT, date(2026, 5, 6)),
        ("31-60", "current", 0, 0, date(2026, 5, 7)),
    ]
    assert (mid_april["days_past_due"], mid_april["delinquency_stage"], mid_april["arrears_cents"]) == (15, "1-30", INSTALMENT)
    assert (await loan_row(servicing, loan_id))["delinquency_stage"] == "current"


async def test_a_loan_past_the_threshold_is_written_off_with_the_guarantee_claim(servicing: RunningService) -> None:
    # An odd principal: half of it ends in .5 cent, rounded up.
    loan_id = await open_loan(servicing, amount_cents=300_001)
    other = await open_loan(servicing)
    await pay(servicing, other, 6 * INSTALMENT, date(2026, 4, 10), "VIR-2026-04-10-0007")

    await close(servicing, date(2026, 10, 1))  # 179 days past due
    assert (await loan_row(servicing, loan_id))["status"] == "active"
    result = await close(servicing, date(2026, 10, 2))  # 180
    again = await close(servicing, date(2026, 10, 3))

    assert (result["written_off"], again["written_off"]) == (1, 0)
    [written_off] = await events(servicing, WRITTEN_OFF)
    assert written_off.subject == str(loan_id)
    assert written_off.data.principal_outstanding_cents == 300_001
    assert written_off.data.guarantee_share == 0.5
    assert written_off.data.guarantee_claim_cents == 150_001 == round_cents(written_off.data.guarantee_share * 300_001)
    assert (written_off.data.days_past_due, written_off.data.business_date) == (180, date(2026, 10, 2))
    row = await loan_row(servicing, loan_id)
    assert (row["status"], row["written_off_on"], row["delinquency_stage"]) == ("written_off", date(2026, 10, 2), "90+")
    # Its events are in order: the misses, the stage changes, then the write-off.
    types = [e.type for e in await events(servicing) if e.subject == str(loan_id)]
    assert types[-1] == WRITTEN_OFF and types.count(WRITTEN_OFF) == 1
    assert (await loan_row(servicing, other))["status"] == "active"


async def test_an_instalment_paid_before_the_close_is_not_missed_and_one_paid_after_is_recorded(servicing: RunningService) -> None:
    on_time, late = await open_loan(servicing), await open_loan(servicing)
    await pay(servicing, on_time, INSTALMENT, APRIL_5, "PRLV-2026-04-05-0001")

    result = await close(servicing, APRIL_5)
    await pay(servicing, late, INSTALMENT, date(2026, 4, 6), "PRLV-2026-04-06-0002")

    assert result["missed_instalments"] == 1
    assert [e.data.loan_id for e in await events(servicing, MISSED)] == [late]
    [paid_late] = await servicing.fetch("select paid_cents, missed_on from instalments where loan_id = $1 and number = 1", late)
    assert (paid_late["paid_cents"], paid_late["missed_on"]) == (INSTALMENT, APRIL_5)
    assert (await close(servicing, date(2026, 4, 6)))["missed_instalments"] == 0
    assert (await loan_row(servicing, late))["arrears_cents"] == 0


async def test_payments_during_a_run_are_all_recorded_and_never_found_missed_once_paid(servicing: RunningService) -> None:
    loans = [await open_loan(servicing) for _ in range(12)]
    servicing.clock.instant = datetime(2026, 4, 5, 20, tzinfo=UTC)
    body = {"business_date": APRIL_5.isoformat()}

    async def pay_all() -> list[int]:
        statuses = []
        for i, loan_id in enumerate(loans):
            payment = {"bank_reference": f"PRLV-2026-04-05-{i:04d}", "amount_cents": INSTALMENT, "received_on": APRIL_5.isoformat()}
            statuses.append((await servicing.http.post(f"/loans/{loan_id}/payments", json=payment, headers=BANK)).status_code)
            await asyncio.sleep(0)
        return statuses

    run, statuses = await asyncio.gather(servicing.http.post("/close-of-business", json=body, headers=OPS), pay_all())

    assert run.status_code == 200 and statuses == [201] * len(loans)
    lines = await servicing.fetch("select loan_id, paid_cents, missed_on from instalments where number = 1")
    assert all(line["paid_cents"] == INSTALMENT for line in lines)
    missed = {e.data.loan_id: e for e in await events(servicing, MISSED)}
    assert {line["loan_id"] for line in lines if line["missed_on"] is not None} == set(missed)
    # What a missed event says was unpaid was unpaid when it was found: the whole instalment.
    assert all(e.data.amount_unpaid_cents == INSTALMENT for e in missed.values())
    assert run.json()["missed_instalments"] == len(missed)
    # The next run finds every loan current again, with no arrears.
    await close(servicing, APRIL_5)
    assert {(r["delinquency_stage"], r["arrears_cents"]) for r in await servicing.fetch("select * from loans")} == {("current", 0)}


class StopAfter:
    """Failpoints that interrupt the run after a chunk, as a crash would, but without killing the test."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk

    def hit(self, name: str, argument: str) -> None:
        if (name, argument) == (usecases.COB_FAILPOINT, str(self.chunk)):
            raise RuntimeError(f"interrupted after chunk {argument}")


async def test_an_interrupted_run_resumes_where_it_stopped_without_doubling_anything(servicing: RunningService) -> None:
    loans = [await open_loan(servicing) for _ in range(7)]
    policy = domain.CobPolicy(chunk_size=2)
    day = date(2026, 5, 6)
    pool = servicing.app.state.ctx.pool
    now = datetime(2026, 5, 6, 22, tzinfo=UTC)

    with pytest.raises(RuntimeError, match="after chunk 2"):
        await usecases.close_business_day(pool, day, policy=policy, now=now, failpoints=StopAfter(2))  # type: ignore[arg-type]
    done_before = len(await events(servicing, MISSED))
    resumed = await usecases.close_business_day(pool, day, policy=policy, now=now)
    repeated = await usecases.close_business_day(pool, day, policy=policy, now=now)

    assert done_before == 8  # 2 chunks × 2 loans × 2 instalments
    assert (resumed.resumed, resumed.chunks, resumed.missed_instalments, resumed.stage_changes) == (True, 2, 6, 3)
    assert (repeated.resumed, repeated.missed_instalments, repeated.stage_changes) == (False, 0, 0)
    missed = await events(servicing, MISSED)
    assert sorted((e.data.loan_id, e.data.instalment_number) for e in missed) == sorted(
        (loan_id, n) for loan_id in loans for n in (1, 2)
    )
    assert len(await events(servicing, STAGE)) == 7
    [run] = await servicing.fetch("select missed, stage_changes, chunks, resume_after, finished_at from cob_runs")
    assert (run["missed"], run["stage_changes"], run["resume_after"]) == (14, 7, None) and run["finished_at"] is not None


async def test_a_resumed_run_also_visits_a_loan_opened_meanwhile_whose_id_sorts_before_where_it_stopped(
    servicing: RunningService,
) -> None:
    loans = sorted([await open_loan(servicing) for _ in range(5)])
    policy = domain.CobPolicy(chunk_size=2)
    day, now = date(2026, 5, 6), datetime(2026, 5, 6, 22, tzinfo=UTC)
    pool = servicing.app.state.ctx.pool
    with pytest.raises(RuntimeError, match="after chunk 1"):
        await usecases.close_business_day(pool, day, policy=policy, now=now, failpoints=StopAfter(1))  # type: ignore[arg-type]
    # While the run is down, the bank disburses one more loan: its id sorts before the last one the run visited.
    application_id = next(a for a in iter(uuid4, None) if loan_id_for(a) < loans[1])
    opened_meanwhile = await open_loan(servicing, application_id=application_id)

    resumed = await usecases.close_business_day(pool, day, policy=policy, now=now)
    run = await run_of(servicing, day)
    repeated = await usecases.close_business_day(pool, day, policy=policy, now=now)

    assert (resumed.resumed, resumed.loans_visited, resumed.missed_instalments, resumed.stage_changes) == (True, 4, 8, 4)
    assert [(e.data.instalment_number, e.data.business_date) for e in await events(servicing, MISSED) if e.data.loan_id == opened_meanwhile] == [
        (1, day), (2, day),
    ]
    assert (await loan_row(servicing, opened_meanwhile))["delinquency_stage"] == "31-60"
    # Its progress counted it: two loans before the interruption, four after, none twice.
    assert (run["status"], run["loans_to_visit"], run["loans_visited"], run["missed_instalments"], run["stage_changes"]) == (
        "finished", 6, 6, 12, 6,
    )
    assert (repeated.missed_instalments, repeated.stage_changes, repeated.loans_visited) == (0, 0, 6)


async def test_an_interrupted_run_reads_as_running_where_it_stopped_until_it_is_resumed(servicing: RunningService) -> None:
    for _ in range(7):
        await open_loan(servicing)
    policy = domain.CobPolicy(chunk_size=2)
    day, now = date(2026, 5, 6), datetime(2026, 5, 6, 22, tzinfo=UTC)
    pool = servicing.app.state.ctx.pool

    with pytest.raises(RuntimeError, match="after chunk 2"):
        await usecases.close_business_day(pool, day, policy=policy, now=now, failpoints=StopAfter(2))  # type: ignore[arg-type]
    stopped = await run_of(servicing, day)
    await usecases.close_business_day(pool, day, policy=policy, now=now)
    resumed = await run_of(servicing, day)

    assert (stopped["status"], stopped["loans_to_visit"], stopped["loans_visited"], stopped["chunks"]) == ("running", 7, 4, 2)
    assert (stopped["missed_instalments"], stopped["finished_at"]) == (8, None)
    assert (resumed["status"], resumed["loans_to_visit"], resumed["loans_visited"], resumed["chunks"]) == ("finished", 7, 7, 4)
    assert (resumed["missed_instalments"], resumed["stage_changes"], resumed["passes"]) == (14, 7, 1)


async def test_the_events_built_in_sql_are_the_events_the_domain_would_build(servicing: RunningService) -> None:
    loan_id = await open_loan(servicing, association_id="restos-du-coeur", region="île-de-france", counsellor_id="c-lefèvre-o'brien")
    await close(servicing, date(2026, 5, 6))

    rows = await servicing.fetch("select event_id, payload from outbox where event_type = any($1) order by id", [MISSED, STAGE])
    parsed = [parse_event(bytes(r["payload"])) for r in rows]
    assert [e.type for e in parsed] == [MISSED, MISSED, STAGE]
    for row, event in zip(rows, parsed, strict=True):
        assert event.id == row["event_id"]
        assert event.source == "/services/servicing" and event.dataschema == f"urn:microcredit:schema:{event.type}"
        assert event.time == datetime(2026, 5, 6, 22, tzinfo=UTC)
        # Byte for byte the JSON the model itself writes (accents and apostrophes included).
        assert bytes(row["payload"]) == event.to_bytes()
    missed = parsed[0]
    assert isinstance(missed, PaymentMissed)
    assert missed.data.model_dump() == {
        "association_id": "restos-du-coeur", "region": "île-de-france", "counsellor_id": "c-lefèvre-o'brien",
        "loan_id": loan_id, "application_id": missed.data.application_id, "instalment_number": 1,
        "due_date": APRIL_5, "amount_due_cents": INSTALMENT, "amount_unpaid_cents": INSTALMENT, "business_date": date(2026, 5, 6),
    }
    assert loan_id_for(missed.data.application_id) == loan_id
    stage = parsed[2]
    assert isinstance(stage, DelinquencyStageChanged)
    assert (stage.data.previous_stage, stage.data.stage, stage.data.days_past_due, stage.data.arrears_cents) == (
        "current", "31-60", 31, 2 * INSTALMENT,
    )


async def run_of(service: RunningService, business_date: date) -> dict[str, Any]:
    """The run of a business date, as ops read it."""
    response = await service.http.get(f"/close-of-business/{business_date.isoformat()}", headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()


@asynccontextmanager
async def loan_held(service: RunningService, loan_id: UUID) -> AsyncIterator[None]:
    """Hold a loan's row as a payment being recorded does: a run's chunk with this loan waits until the block ends."""
    conn = await asyncpg.connect(service.dsn, server_settings={"search_path": service.app.state.ctx.schema})
    try:
        async with conn.transaction():
            await conn.execute("select id from loans where id = $1 for update", loan_id)
            yield
    finally:
        await conn.close()


async def first_chunk_committed(service: RunningService, business_date: date) -> dict[str, Any]:
    """The run as another request reads it once its first chunk has committed."""
    for _ in range(500):
        response = await service.http.get(f"/close-of-business/{business_date.isoformat()}", headers=OPS)
        if response.status_code == 200 and response.json()["chunks"] >= 1:
            return response.json()
        await asyncio.sleep(0.02)
    raise AssertionError(f"no chunk of the close of business of {business_date} was committed")


async def test_ops_follow_a_run_under_way_from_another_request(servicing: RunningService) -> None:
    loans = sorted([await open_loan(servicing) for _ in range(5)])  # chunks of 2, 2 and 1, in loan-id order
    day = date(2026, 5, 6)
    servicing.clock.instant = datetime(2026, 5, 6, 22, tzinfo=UTC)

    async with loan_held(servicing, loans[2]):  # the second chunk waits for it
        run = asyncio.create_task(servicing.http.post("/close-of-business", json={"business_date": day.isoformat()}, headers=OPS))
        under_way = await first_chunk_committed(servicing, day)
        listed = await servicing.http.get("/close-of-business", headers=OPS)
        assert not run.done()
    answer = await run
    finished = await run_of(servicing, day)

    assert under_way == {
        "business_date": "2026-05-06", "status": "running", "started_at": "2026-05-06T22:00:00Z", "finished_at": None,
        "loans_to_visit": 5, "loans_visited": 2, "chunks": 1,
        "missed_instalments": 4, "stage_changes": 2, "written_off": 0, "passes": 1,
    }
    assert listed.json() == [under_way] and listed.headers["X-Total-Count"] == "1"
    assert answer.status_code == 200, answer.text
    assert {k: finished[k] for k in ("status", "loans_to_visit", "loans_visited", "chunks", "missed_instalments", "stage_changes")} == {
        "status": "finished", "loans_to_visit": 5, "loans_visited": 5, "chunks": 3, "missed_instalments": 10, "stage_changes": 5,
    }
    assert finished["finished_at"] == "2026-05-06T22:00:00Z"
    assert {k: answer.json()[k] for k in ("loans_visited", "chunks", "missed_instalments")} == {
        "loans_visited": 5, "chunks": 3, "missed_instalments": 10,
    }


async def test_a_loan_repaid_while_the_run_waits_is_taken_off_what_the_run_has_to_visit(servicing: RunningService) -> None:
    loans = sorted([await open_loan(servicing) for _ in range(5)])
    day = date(2026, 5, 6)
    servicing.clock.instant = datetime(2026, 5, 6, 22, tzinfo=UTC)

    async with loan_held(servicing, loans[2]):
        run = asyncio.create_task(servicing.http.post("/close-of-business", json={"business_date": day.isoformat()}, headers=OPS))
        under_way = await first_chunk_committed(servicing, day)
        # Meanwhile the borrower of the last chunk's loan repays everything: the loan is closed before the run reaches it.
        payoff = (await servicing.http.get(f"/loans/{loans[4]}", headers=BANK)).json()["payoff_cents"]
        await pay(servicing, loans[4], payoff, day, "VIR-2026-05-06-0042")
    answer = await run
    finished = await run_of(servicing, day)

    assert (await loan_row(servicing, loans[4]))["status"] == "closed"
    assert (under_way["loans_to_visit"], under_way["loans_visited"]) == (5, 2)
    assert (finished["status"], finished["loans_to_visit"], finished["loans_visited"], finished["chunks"]) == ("finished", 4, 4, 3)
    assert answer.json()["loans_visited"] == 4


async def test_ops_list_the_runs_newest_business_date_first_in_pages(servicing: RunningService) -> None:
    await open_loan(servicing)
    for day in (date(2026, 4, 6), date(2026, 5, 6), APRIL_5, date(2026, 5, 6)):
        await close(servicing, day)

    everything = await servicing.http.get("/close-of-business", headers=OPS)
    page = await servicing.http.get("/close-of-business", params={"limit": 2, "offset": 1}, headers=OPS)
    beyond = await servicing.http.get("/close-of-business", params={"offset": 3}, headers=OPS)

    assert [(r["business_date"], r["status"], r["passes"]) for r in everything.json()] == [
        ("2026-05-06", "finished", 2), ("2026-04-06", "finished", 1), ("2026-04-05", "finished", 1),
    ]
    assert page.json() == everything.json()[1:] and beyond.json() == []
    assert {r.headers["X-Total-Count"] for r in (everything, page, beyond)} == {"3"}
    for listed in everything.json():
        assert await run_of(servicing, date.fromisoformat(listed["business_date"])) == listed
    # Two passes over May 6th: the second found nothing more to do, and the counts are of both.
    may = everything.json()[0]
    assert (may["missed_instalments"], may["loans_to_visit"], may["loans_visited"], may["chunks"]) == (1, 1, 1, 1)


async def test_a_date_never_run_is_not_found_and_only_ops_read_the_runs(servicing: RunningService) -> None:
    await open_loan(servicing)
    await close(servicing, APRIL_5)

    unknown = await servicing.http.get("/close-of-business/2026-04-04", headers=OPS)
    invalid = await servicing.http.get("/close-of-business/2026-04-31", headers=OPS)

    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert (unknown.json()["title"], unknown.json()["detail"]) == (
        "close of business not found", "no close of business was run for 2026-04-04",
    )
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "path.business_date"
    for principal in (tokens.counsellor(), tokens.supervisor(), tokens.bank()):
        for path in ("/close-of-business", "/close-of-business/2026-04-05"):
            refused = await servicing.http.get(path, headers=bearer(principal))
            assert refused.status_code == 403, (path, refused.text)


async def cob_metrics(service: RunningService) -> dict[str, float]:
    """The close-of-business samples of the service's /metrics, as a scrape reads them."""
    scraped = await service.http.get("/metrics")
    assert scraped.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name.startswith("microcredit_cob_") and not sample.name.endswith("_created")
    }


async def test_a_run_moves_the_close_of_business_metrics_and_a_repeat_only_counts_as_a_run(servicing: RunningService) -> None:
    for _ in range(3):
        await open_loan(servicing)
    assert (await cob_metrics(servicing))["microcredit_cob_runs_total"] == 0

    await close(servicing, date(2026, 5, 6))
    first = await cob_metrics(servicing)
    await close(servicing, date(2026, 5, 6))
    second = await cob_metrics(servicing)

    counted = ("runs", "loans_visited", "missed_instalments", "stage_changes", "write_offs")
    assert [first[f"microcredit_cob_{name}_total"] for name in counted] == [1, 3, 6, 3, 0]
    assert [second[f"microcredit_cob_{name}_total"] for name in counted] == [2, 6, 6, 3, 0]  # it looked again, changed nothing
    assert second["microcredit_cob_last_business_date_timestamp_seconds"] == day_timestamp(date(2026, 5, 6)) == 1_778_025_600
    assert second["microcredit_cob_last_run_loans_visited"] == 3
    # The service clock stands at 22:00 that day; the gauge adds the pass's own length to it.
    finished_at = second["microcredit_cob_last_run_finished_timestamp_seconds"]
    assert 0 < second["microcredit_cob_last_run_duration_seconds"] < 30
    assert finished_at == pytest.approx(
        datetime(2026, 5, 6, 22, tzinfo=UTC).timestamp() + second["microcredit_cob_last_run_duration_seconds"], abs=0.01
    )


async def test_an_interrupted_run_counts_its_committed_chunks_and_its_resumption_only_the_rest(servicing: RunningService) -> None:
    for _ in range(5):
        await open_loan(servicing)
    registry = CollectorRegistry()
    metrics = CloseOfBusinessMetrics.register(registry)
    pool, day, now = servicing.app.state.ctx.pool, date(2026, 5, 6), datetime(2026, 5, 6, 22, tzinfo=UTC)
    policy = domain.CobPolicy(chunk_size=2)

    with pytest.raises(RuntimeError, match="after chunk 1"):
        await usecases.close_business_day(pool, day, policy=policy, now=now, failpoints=StopAfter(1), observer=metrics)  # type: ignore[arg-type]
    interrupted = [registry.get_sample_value(n) for n in ("microcredit_cob_runs_total", "microcredit_cob_missed_instalments_total")]
    await usecases.close_business_day(pool, day, policy=policy, now=now, observer=metrics)

    assert interrupted == [0, 4]  # one chunk of 2 loans × 2 instalments, no run finished
    assert registry.get_sample_value("microcredit_cob_runs_total") == 1
    assert registry.get_sample_value("microcredit_cob_missed_instalments_total") == 10
    assert registry.get_sample_value("microcredit_cob_loans_visited_total") == 5
    assert registry.get_sample_value("microcredit_cob_last_run_loans_visited") == 3  # the resumed pass visited the rest
