"""A file's life at the counsellor's hands: opened as a draft, edited, submitted, withdrawn (pure)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.change import AuditEntry, Change, Milestone
from services.intake.domain.contract import event, file_data, ownership
from services.intake.domain.documents import DocumentRecord, DocumentState
from services.intake.domain.file import CLOSED, DECIDED, Application, FileChanges, FileContent, Status
from shared.auth import Actor, Role
from shared.clock import business_day
from shared.errors import BusinessRuleError
from shared.events import ApplicationSubmitted, ApplicationUpdated, ApplicationWithdrawn
from shared.events import ApplicationSubmittedData, ApplicationUpdatedData, ApplicationWithdrawnData
from shared.events.envelope import Envelope
from shared.fields import FreeText

ADULT_AGE = 18
MAX_AGE = 120


class Submission(BaseModel):
    """Submit a draft; with documents outstanding, only with a written reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incomplete_reason: FreeText | None = Field(
        None, min_length=1, max_length=2000, description="Required when documents are missing or expired."
    )


class Withdrawal(BaseModel):
    """The applicant withdraws the file (recorded by the counsellor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: FreeText = Field(min_length=1, max_length=2000, description="Why the applicant withdraws.")


def _rule(detail: str, field_: str, rule: str, status: int = 422) -> BusinessRuleError:
    return BusinessRuleError(detail, field=field_, rule=rule, status=status)


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def check_dates(application: Application, today: date) -> None:
    """A birth date in the past, of an adult not absurdly old; no document dated in the future."""
    born = application.applicant.birth_date
    if born is not None:
        if born >= today:
            raise _rule("the birth date must be in the past", "applicant.birth_date", "past_date")
        if age_on(born, today) < ADULT_AGE:
            raise _rule(f"the applicant must be of age ({ADULT_AGE})", "applicant.birth_date", "adult")
        if age_on(born, today) > MAX_AGE:
            raise _rule(f"a birth date more than {MAX_AGE} years ago is a typing error", "applicant.birth_date", "plausible_age")
    for kind, document in application.documents.items():
        if document.on > today:
            raise _rule("a document cannot be dated in the future", f"documents.{kind.value}.on", "not_future")


def missing_for_submission(application: Application) -> list[str]:
    """The parts of the file a submission needs and the file lacks, as field paths."""
    a = application
    contact = a.applicant.contact
    checks = {
        "applicant.birth_date": a.applicant.birth_date is not None,
        "applicant.contact": contact is not None and (contact.phone is not None or contact.email is not None),
        "applicant.address": a.applicant.address is not None,
        "household": a.household is not None,
        "resources": bool(a.resources),
        "charges": bool(a.charges),
        "project": a.project is not None,
        "amount_cents": a.amount_cents is not None,
        "duration_months": a.duration_months is not None,
        "referral_source": a.referral_source is not None,
    }
    return [name for name, present in checks.items() if not present]


def assign_counsellor(actor: Actor, requested: str | None, current: str | None) -> str:
    """A counsellor files under their own name; a supervisor may assign a counsellor (by default, themselves)."""
    if actor.role == Role.SUPERVISOR:
        return requested or current or actor.subject
    if requested is not None and requested != actor.subject:
        raise _rule("only a supervisor can assign a file to another counsellor", "counsellor_id", "assign_counsellor", 403)
    return actor.subject if requested is not None or current is None else current


def _document(record: DocumentRecord, before: DocumentState | None, today: date) -> DocumentState:
    # The same status recorded again without a date keeps the date it was first recorded on.
    if record.on is None and before is not None and before.status is record.status:
        return before
    return DocumentState(status=record.status, on=record.on or today)


def open_file(
    content: FileContent, *, application_id: UUID, association_id: str, region: str, actor: Actor, now: datetime
) -> Change:
    """A new draft in the actor's association: nothing is published until it is submitted."""
    today = business_day(now)
    application = Application(
        id=application_id,
        status=Status.DRAFT,
        association_id=association_id,
        region=region,
        branch_id=content.branch_id,
        counsellor_id=assign_counsellor(actor, content.counsellor_id, None),
        applicant=content.applicant,
        household=content.household,
        resources=content.resources or {},
        charges=content.charges or {},
        project=content.project,
        amount_cents=content.amount_cents,
        duration_months=content.duration_months,
        referral_source=content.referral_source,
        documents={k: _document(r, None, today) for k, r in (content.documents or {}).items()},
        created_at=now,
        created_by=actor.subject,
        updated_at=now,
    )
    check_dates(application, today)
    audit = AuditEntry("opened", actor, now, {"counsellor_id": application.counsellor_id})
    return Change(application, audit, milestone=Milestone.OPENED)


def edit_file(application: Application, changes: FileChanges, actor: Actor, now: datetime) -> Change | None:
    """Apply changes; after submission they publish `application updated`. None when nothing changed."""
    if application.status in CLOSED:
        raise _rule(f"the file is {application.status.value}: it can no longer change", "status", "file_closed", 409)
    today = business_day(now)
    updates: dict[str, Any] = {}
    changed: list[str] = []
    for name in sorted(changes.model_fields_set):
        value = getattr(changes, name)
        if name == "documents":
            documents = dict(application.documents)
            for kind, record in (value or {}).items():
                documents[kind] = _document(record, documents.get(kind), today)
                if documents[kind] != application.documents.get(kind):
                    changed.append(f"documents.{kind.value}")
            updates[name] = documents
            continue
        if name == "counsellor_id":
            value = assign_counsellor(actor, value, application.counsellor_id)
        elif name in ("resources", "charges"):
            value = value or {}
        if value != getattr(application, name):
            updates[name] = value
            changed.append(name)
    if not changed:
        return None
    updated = application.model_copy(update={**updates, "updated_at": now})
    check_dates(updated, today)
    events: tuple[Envelope[Any], ...] = ()
    if updated.status is not Status.DRAFT:
        missing = missing_for_submission(updated)
        if missing:
            raise _rule(f"a submitted file cannot lose {', '.join(missing)}", missing[0], "required_for_submission")
        data = ApplicationUpdatedData(**file_data(updated), changed_fields=sorted(changed))
        events = (event(ApplicationUpdated, updated, now, data),)
    return Change(updated, AuditEntry("edited", actor, now, {"changed_fields": sorted(changed)}), events)


def submit_file(application: Application, submission: Submission, actor: Actor, now: datetime) -> Change:
    """Submit a complete draft, or an incomplete one with its reason: publishes `application submitted`."""
    if application.status is not Status.DRAFT:
        raise _rule(f"the file is {application.status.value}, not a draft", "status", "state", 409)
    missing = missing_for_submission(application)
    if missing:
        raise _rule(f"the file lacks {', '.join(missing)}", missing[0], "required_for_submission")
    check_dates(application, business_day(now))
    outstanding = application.outstanding_documents
    reason = submission.incomplete_reason
    if outstanding and not reason:
        raise _rule(
            f"documents missing or expired: {', '.join(k.value for k in outstanding)};"
            " record them, or give an incomplete_reason to submit the file as it is",
            "documents",
            "checklist_incomplete",
        )
    submitted = application.model_copy(
        update={
            "status": Status.SUBMITTED,
            "submitted_at": now,
            "updated_at": now,
            "incomplete_reason": reason if outstanding else None,
        }
    )
    data = ApplicationSubmittedData(**file_data(submitted))
    details = {"outstanding_documents": [k.value for k in outstanding], "incomplete_reason": submitted.incomplete_reason}
    return Change(
        submitted,
        AuditEntry("submitted", actor, now, details),
        (event(ApplicationSubmitted, submitted, now, data),),
        Milestone.SUBMITTED,
    )


def withdraw_file(application: Application, withdrawal: Withdrawal, actor: Actor, now: datetime) -> Change:
    """The applicant withdraws before the bank decides; a submitted file publishes `application withdrawn`."""
    if application.status in DECIDED:
        raise _rule(
            f"the bank has already decided ({application.status.value}): the file can no longer be withdrawn",
            "status",
            "bank_decided",
            409,
        )
    if application.status is Status.WITHDRAWN:
        raise _rule("the file is already withdrawn", "status", "state", 409)
    withdrawn = application.model_copy(
        update={
            "status": Status.WITHDRAWN,
            "withdrawn_at": now,
            "withdrawal_reason": withdrawal.reason,
            "withdrawn_by": actor.subject,
            "updated_at": now,
        }
    )
    events: tuple[Envelope[Any], ...] = ()
    if application.status is not Status.DRAFT:  # nobody outside intake ever heard of a draft
        data = ApplicationWithdrawnData(
            **ownership(withdrawn), application_id=withdrawn.id, reason=withdrawal.reason, withdrawn_by=actor.subject
        )
        events = (event(ApplicationWithdrawn, withdrawn, now, data),)
    audit = AuditEntry("withdrawn", actor, now, {"reason": withdrawal.reason, "previous_status": application.status.value})
    return Change(withdrawn, audit, events, Milestone.WITHDRAWN)
