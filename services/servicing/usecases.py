"""Servicing use cases: one function per command, the same whichever channel (HTTP or Kafka) carries it.

A command runs in the caller's transaction (`conn`): a route opens one, a Kafka handler is given one
with its inbox record. The disbursement, which only the bank's HTTP call makes, is one statement of its
own. A loan the caller may not see answers exactly like an unknown one (`Problem` 404: the HTTP answer,
or the reason of a dead letter); a rule broken is a `BusinessRuleError`.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from typing import Protocol
from uuid import UUID

import asyncpg

from services.servicing import domain, repository
from services.servicing.repository import close_of_business as cob
from services.servicing.repository import erasure
from services.servicing.repository.events_sql import Stamp
from shared.auth import Principal
from shared.events import LoanApproved
from shared.failpoints import Failpoints
from shared.http import Problem, not_found
from shared.outbox import add_to_outbox
from shared.privacy.erasure import forget_stored_responses
from shared.versioned import CHANGED, Changed, retry_while_changed

log = logging.getLogger(__name__)

COB_FAILPOINT = "cob_after_chunk"


class CobObserver(Protocol):
    """Who hears what a close of business does (servicing's metrics, `services.servicing.metrics`)."""

    def chunk_committed(self, done: domain.ChunkDone) -> None:
        """A chunk's transaction committed, with what it changed."""

    def run_finished(self, run: domain.CloseOfBusinessRun, *, seconds: float, finished_at: datetime) -> None:
        """A pass finished: its report, how long it took, when it ended on the service clock."""


async def visible_loan(
    conn: asyncpg.Connection | asyncpg.Pool, caller: Principal, loan_id: UUID, *, for_update: bool = False
) -> domain.Loan:
    """The loan if `caller` may see it, locked for the transaction if `for_update`; 404 otherwise."""
    loan = await repository.get_loan(conn, loan_id, for_update=for_update)
    if loan is None or not domain.visible(caller, loan):
        raise not_found("loan", loan_id)
    return loan


async def open_loan(conn: asyncpg.Connection, approval: LoanApproved, *, now: datetime) -> None:
    """The bank approved: the loan and its schedule, awaiting disbursement (once, however often approved)."""
    loan, schedule = domain.open_loan(approval, now)
    await repository.insert_loan(conn, loan, schedule)


async def disburse(
    conn: asyncpg.Connection, caller: Principal, loan_id: UUID, cmd: domain.Disbursement, *, now: datetime
) -> domain.Loan:
    """The lending bank confirms the funds went out: the loan becomes active.

    Its own transaction, not the caller's: the loan is read with its version, and the loan and its event are written
    in one statement only if the loan is still that version (`shared.versioned`); a change that landed meanwhile wins,
    and the command is taken again on the loan as it is then.
    """

    async def attempt() -> domain.Loan | Changed:
        found = await repository.get_loan_versioned(conn, loan_id)
        if found is None or not domain.visible(caller, found[0]):
            raise not_found("loan", loan_id)
        loan, version = found
        active, event = domain.disburse(loan, cmd, now)
        return active if await repository.store_disbursement(conn, active, (event,), version=version) else CHANGED

    return await retry_while_changed(attempt, what="the loan", field="loan_id")


async def _apply(conn: asyncpg.Connection, before: list[domain.Instalment], change: domain.LedgerChange) -> None:
    await repository.save_instalments(conn, change.loan.id, before, change.instalments)
    await repository.save_loan(conn, change.loan)
    await add_to_outbox(conn, *change.events)


async def record_payment(
    conn: asyncpg.Connection, caller: Principal, loan_id: UUID, cmd: domain.NewPayment, *, today: date, now: datetime
) -> tuple[domain.Payment, bool]:
    """The lending bank's payment, applied once per bank reference: (the payment, True if already recorded)."""
    loan = await visible_loan(conn, caller, loan_id, for_update=True)
    existing = await repository.payment_by_reference(conn, loan.id, cmd.bank_reference)
    if existing is not None:
        return existing, True
    lines = await repository.instalments(conn, loan.id)
    change = domain.receive_payment(loan, lines, cmd, domain.payment_id_for(loan.id, cmd.bank_reference), today, now)
    await repository.insert_payment(conn, change.payment)
    await _apply(conn, lines, change)
    return change.payment, False


async def reverse_payment(
    conn: asyncpg.Connection,
    caller: Principal,
    loan_id: UUID,
    payment: UUID | str,
    cmd: domain.Reversal,
    *,
    now: datetime,
) -> tuple[domain.Payment, bool]:
    """The lending bank reverses a payment (named by its id, or by the bank's reference of it): what it paid is owed
    again. Asked again it changes nothing: (the payment, True if it was already reversed)."""
    loan = await visible_loan(conn, caller, loan_id, for_update=True)
    if isinstance(payment, UUID):
        found = await repository.payment_by_id(conn, loan.id, payment)
        missing = not_found("payment", payment)
    else:
        found = await repository.payment_by_reference(conn, loan.id, payment)
        missing = Problem(404, "payment not found", f"loan {loan.id} has no payment with bank reference {payment}")
    if found is None:
        raise missing
    if domain.is_repeated_reversal(found, cmd):
        return found, True
    lines = await repository.instalments(conn, loan.id)
    change = domain.reverse_payment(loan, lines, found, cmd, now)
    await repository.mark_reversed(conn, change.payment)
    await _apply(conn, lines, change)
    return change.payment, False


async def request_adjustment(
    conn: asyncpg.Connection,
    caller: Principal,
    loan_id: UUID,
    body: domain.AdjustmentRequest,
    *,
    adjustment_id: UUID,
    today: date,
    now: datetime,
) -> tuple[domain.Adjustment, domain.Preview]:
    """A counsellor's request, and what it would come to if the bank accepted it today."""
    loan = await visible_loan(conn, caller, loan_id, for_update=True)
    adjustment, figures, event = domain.request_adjustment(
        loan,
        await repository.instalments(conn, loan.id),
        body,
        adjustment_id=adjustment_id,
        requested_by=caller.subject,
        open_request=await repository.open_adjustment(conn, loan.id),
        today=today,
        now=now,
    )
    await repository.insert_adjustment(conn, adjustment)
    await add_to_outbox(conn, event)
    return adjustment, figures


async def preview_adjustment(
    conn: asyncpg.Connection | asyncpg.Pool, caller: Principal, loan_id: UUID, terms: domain.Terms, *, today: date
) -> tuple[domain.Preview, tuple[domain.Instalment, ...]]:
    """What `terms` would come to if the bank accepted them today, and the whole schedule they would make; changes nothing."""
    loan = await visible_loan(conn, caller, loan_id)
    new_plan = domain.plan(loan, await repository.instalments(conn, loan.id), terms, today)
    return domain.preview(new_plan), new_plan.instalments


async def answer_adjustment(
    conn: asyncpg.Connection,
    caller: Principal,
    loan_id: UUID,
    adjustment_id: UUID,
    answer: domain.AdjustmentAnswer,
    *,
    today: date,
    now: datetime,
) -> domain.Adjustment:
    """The lending bank's answer; an acceptance archives the current schedule and writes the new version."""
    loan = await visible_loan(conn, caller, loan_id, for_update=True)
    adjustment = await repository.get_adjustment(conn, loan.id, adjustment_id, for_update=True)
    if adjustment is None:
        raise not_found("adjustment", adjustment_id)
    lines = await repository.instalments(conn, loan.id)
    answered = domain.answer_adjustment(loan, lines, adjustment, answer, answered_by=caller.subject, today=today, now=now)
    if answered.plan is not None and answered.loan is not None:
        await repository.archive_version(conn, loan, lines)
        await repository.save_instalments(conn, loan.id, lines, answered.plan.instalments)
        await repository.save_loan(conn, answered.loan)
    await repository.save_answer(conn, answered.adjustment)
    await add_to_outbox(conn, *answered.events)
    return answered.adjustment


async def recorded_run(pool: asyncpg.Pool, business_date: date) -> domain.RecordedRun:
    """The close of business of `business_date` as recorded so far; 404 if it was never started."""
    run = await repository.cob_run(pool, business_date)
    if run is None:
        raise Problem(404, "close of business not found", f"no close of business was run for {business_date.isoformat()}")
    return run


async def close_business_day(
    pool: asyncpg.Pool,
    business_date: date,
    *,
    policy: domain.CobPolicy,
    now: datetime,
    failpoints: Failpoints | None = None,
    observer: CobObserver | None = None,
) -> domain.CloseOfBusinessRun:
    """Run (or resume, or repeat without effect) the close of business of `business_date`, a chunk per transaction.

    Runs are serialised: a second request waits for the first to end, then finds nothing left to do.
    `observer` hears each committed chunk and the finished pass (not a pass interrupted).
    """
    started = time.perf_counter()
    stamp = Stamp.of(now)
    total = domain.ChunkDone()
    chunks = 0
    async with pool.acquire() as conn, cob.exclusive_run(conn):
        resume_after, resumed = await cob.begin(conn, business_date, now)
        await cob.take_scope(conn, business_date, policy.missed_by(business_date), resume_after)
        after = None  # the scope holds only what the pass has left to visit
        while True:
            async with conn.transaction():
                chunk = await cob.take_chunk(conn, after, policy.chunk_size)
                if not chunk.ids:
                    break
                done, chunk_no = await _close_chunk(conn, business_date, chunk, policy=policy, stamp=stamp, now=now)
            total, chunks = total + done, chunks + 1
            if observer is not None:
                observer.chunk_committed(done)
            if failpoints is not None:
                failpoints.hit(COB_FAILPOINT, str(chunk_no))
            after = chunk.ids[-1]
        await cob.finish(conn, business_date, now)
    log.info(
        "close of business %s: %d chunks, %d loans visited, %d missed, %d stage changes, %d written off%s",
        business_date, chunks, total.loans, total.missed, total.stage_changes, total.written_off, " (resumed)" if resumed else "",
    )
    run = domain.CloseOfBusinessRun.of(business_date, total, chunks=chunks, resumed=resumed)
    if observer is not None:
        seconds = time.perf_counter() - started
        observer.run_finished(run, seconds=seconds, finished_at=now + timedelta(seconds=seconds))
    return run


async def _close_chunk(
    conn: asyncpg.Connection, business_date: date, chunk: cob.Chunk, *, policy: domain.CobPolicy, stamp: Stamp, now: datetime
) -> tuple[domain.ChunkDone, int]:
    """One chunk's state changes, their events and its progress, in the caller's transaction: what it did, its number."""
    closed = await cob.close_chunk(
        conn, business_date, chunk, missed_by=policy.missed_by(business_date), write_off_days=policy.write_off_days, stamp=stamp
    )
    # Few loans a day pass the threshold: they go through the domain's own rule.
    due = await cob.loans_to_write_off(conn, closed.to_write_off) if closed.to_write_off else []
    decisions = [domain.write_off(loan, lines, business_date, now=now) for loan, lines in due]
    await cob.save_write_offs(conn, business_date, decisions, stamp)
    done = domain.ChunkDone(
        loans=len(chunk.locked), missed=closed.missed, stage_changes=closed.stage_changes, written_off=len(decisions)
    )
    return done, closed.number


async def erase_borrower(conn: asyncpg.Connection, application_id: UUID) -> bool:
    """The borrower of the file was erased: what servicing wrote about them goes; the loan's amounts and dates stay
    for the portfolio. False when servicing holds no loan of that file."""
    erased = await erasure.erase_borrower(conn, application_id)
    await forget_stored_responses(conn, application_id)
    return erased
