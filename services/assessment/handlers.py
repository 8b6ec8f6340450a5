"""Assessment's Kafka handlers: intake's files on the applications stream, banks' decisions on each bank's own topic,
and the directory's snapshots (networks' thresholds, associations' partner banks, banks in use).

Each handler translates its event into a use case's command and calls it; a decision the use case
refuses becomes `EventRejected` (the dead-letter topic, with the reason).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from pydantic import ValidationError

from services.assessment import repository, usecases
from services.assessment.domain.decision import BankDecisionTerms, NotRoutedToBank
from services.assessment.settings import AssessmentSettings
from shared.auth import Actor
from shared.batch_handler import BatchHandler
from shared.consumer import EventRejected, EventTooEarly
from shared.errors import BusinessRuleError
from shared.events import (
    ApplicationSubmitted, ApplicationUpdated, ApplicationWithdrawn, BankDecision, PartnerTopics, PersonErased, Topics,
)
from shared.events import DirectoryAssociation, DirectoryBank, DirectoryNetwork
from shared.events.banks import sender_refusal
from shared.privacy.sealing import ERASED, clear_or, still_sealed
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)

GROUP_ID = "assessment"
ERASURES_GROUP_ID = "assessment-erasures"
BANK_DECISIONS_GROUP_ID = "assessment-bank-decisions"
DIRECTORY_GROUP_ID = "assessment-directory"
_TERMS = frozenset(BankDecisionTerms.model_fields)


def _intake(source: str) -> Actor:
    # Assessment's audit trail has always shown intake's events under the role "system": kept as it reads.
    return Actor(subject=source, role="system")


def _erased(event: ApplicationSubmitted | ApplicationUpdated) -> bool:
    """A file whose personal fields no longer open (its applicant was erased): nothing left to assess."""
    if fields := still_sealed(event):
        log.warning("%s %s: %s sealed for an erased subject, file not taken in", event.type, event.id, ", ".join(fields))
        return True
    return False


def register(ctx: ServiceContext[AssessmentSettings]) -> None:
    """Subscribe assessment to the applications stream, the partner banks' decisions and the directory."""
    settings = ctx.settings

    async def prepare_submitted(conn: asyncpg.Connection, events: Sequence[ApplicationSubmitted]) -> usecases.Openings:
        return await usecases.prepare_openings(conn, [e.data for e in events])

    async def open_submitted(conn: asyncpg.Connection, event: ApplicationSubmitted, openings: usecases.Openings) -> None:
        if _erased(event):
            return
        await usecases.open_file(
            conn, event.data, openings, settings=settings, actor=_intake(event.source), now=ctx.clock.now()
        )

    # A run of submitted files costs two round trips, not two per file: one read before, one write after.
    on_submitted = BatchHandler(prepare_submitted, open_submitted, usecases.store_openings)

    async def on_updated(conn: asyncpg.Connection, event: ApplicationUpdated) -> None:
        if _erased(event):
            return
        await usecases.update_file(conn, event.data, settings=settings, actor=_intake(event.source), now=ctx.clock.now())

    async def on_withdrawn(conn: asyncpg.Connection, event: ApplicationWithdrawn) -> None:
        data = event.data.model_copy(update={"reason": clear_or(event.data.reason, ERASED)})
        await usecases.withdraw_file(conn, data, actor=_intake(event.source), now=ctx.clock.now())

    async def on_bank_decision(conn: asyncpg.Connection, event: BankDecision) -> None:
        data = event.data
        try:
            terms = BankDecisionTerms.model_validate(data.model_dump(include=_TERMS))
        except ValidationError as invalid:
            error = invalid.errors()[0]
            raise EventRejected(f"incomplete or invalid decision: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
        try:
            await usecases.record_bank_decision(
                conn, data.application_id, terms, bank_id=data.bank_id, actor=Actor(subject=data.bank_id, role="bank"),
                settings=settings, now=ctx.clock.now(), channel="kafka",
            )
        except NotRoutedToBank as refused:
            file = await repository.get(conn, data.application_id)
            if file is None or file.routed_at is None:
                # The routing may still be on its way (or never come: dead-lettered after the parking delay).
                raise EventTooEarly(f"{refused.field}: {refused.detail} yet") from None
            raise EventRejected(f"{refused.field}: {refused.detail}") from None  # routed to another bank
        except BusinessRuleError as refused:
            raise EventRejected(f"{refused.field}: {refused.detail}") from None

    async def on_erased(conn: asyncpg.Connection, event: PersonErased) -> None:
        await usecases.erase_person(conn, event.data.subject_id, actor=_intake(event.source), at=event.data.erased_at)

    ctx.consume(
        GROUP_ID,
        (Topics.APPLICATIONS,),
        {ApplicationSubmitted: on_submitted, ApplicationUpdated: on_updated, ApplicationWithdrawn: on_withdrawn},
        announce=True,  # GET /assessments/{id} with `Prefer: wait=N` answers once the file is received
    )
    ctx.consume(ERASURES_GROUP_ID, (Topics.PRIVACY,), {PersonErased: on_erased})
    # Every bank's decisions topic, a bank added later included; the topic names the bank, the payload must too.
    ctx.consume(
        BANK_DECISIONS_GROUP_ID, (), {BankDecision: on_bank_decision},
        pattern=PartnerTopics.DECISIONS_PATTERN, address=PartnerTopics.DECISIONS_ADDRESS, refuse=sender_refusal,
    )

    async def on_network(conn: asyncpg.Connection, event: DirectoryNetwork) -> None:
        await usecases.keep_network(conn, event.data)

    async def on_association(conn: asyncpg.Connection, event: DirectoryAssociation) -> None:
        await usecases.keep_association(conn, event.data)

    async def on_bank(conn: asyncpg.Connection, event: DirectoryBank) -> None:
        await usecases.keep_bank(conn, event.data)

    ctx.consume(
        DIRECTORY_GROUP_ID,
        (Topics.DIRECTORY,),
        {DirectoryNetwork: on_network, DirectoryAssociation: on_association, DirectoryBank: on_bank},
    )
