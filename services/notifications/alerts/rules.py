"""The alert rules: which facts about a file or a loan reach whom, and how urgently (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from uuid import UUID

from services.notifications.alerts.domain import Alert, AlertDraft, Audience, Severity
from shared import french
from shared.events import (
    AdjustmentRefused,
    ApplicationAssessed,
    BankDecisionOverdue,
    DelinquencyStageChanged,
    Envelope,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    LoanRescheduled,
    PaymentMissed,
)
from shared.events import FileOwnership
from shared.events.vocabulary import DelinquencyStage

# Days past due from which a loan is the supervisors' business too (the 31-60 stage).
SUPERVISOR_DAYS_PAST_DUE = 31
EARLY_STAGES = (DelinquencyStage.CURRENT, DelinquencyStage.UP_TO_30_DAYS)
# The checklist items of intake (and assessment's `missing_documents`) as a counsellor names them.
DOCUMENT_LABELS = {
    "identity": "pièce d'identité",
    "tax_notice": "avis d'imposition ou de non-imposition",
    "proof_of_address": "justificatif de domicile",
    "bank_statements": "relevés bancaires",
    "proof_of_resources": "justificatifs de ressources",
    "proof_of_charges": "justificatifs de charges",
    "payslips": "bulletins de salaire",
    "benefit_statements": "attestations CAF, France Travail ou retraite",
    "quote": "devis du fournisseur",
    "driving_licence": "permis de conduire",
    "insurance_quote": "devis d'assurance",
    "over_indebtedness_plan": "plan de surendettement Banque de France",
}


@dataclass(frozen=True)
class LoanFollowUp:
    """What notifications remembers of a loan: its latest delinquency stage and its run of missed instalments."""

    loan_id: UUID
    application_id: UUID | None = None
    stage: str = DelinquencyStage.CURRENT
    days_past_due: int = 0
    stage_as_of: date | None = None
    last_missed_instalment: int | None = None
    missed_streak: int = 0


@dataclass(frozen=True)
class IncompleteFile:
    """A file assessed as incomplete, waiting for documents."""

    application_id: UUID
    association_id: str
    region: str
    counsellor_id: str
    assessed_event_id: UUID
    missing_documents: tuple[str, ...]
    since: datetime


def documents(keys: tuple[str, ...]) -> str:
    """The missing documents, in words, in the order given."""
    return ", ".join(DOCUMENT_LABELS.get(k, k.replace("_", " ")) for k in keys)


def _addressee(owner: FileOwnership) -> Audience:
    # A file nobody follows yet goes to the association's shared queue.
    return "counsellor" if owner.counsellor_id.strip() else "association"


def _draft(
    cause: Envelope, owner: FileOwnership, severity: Severity, message: str, *,
    loan_id: UUID | None = None, application_id: UUID | None = None, audience: Audience | None = None, **extra: object,
) -> AlertDraft:
    return AlertDraft(
        cause_event_id=cause.id, cause_type=cause.type,
        association_id=owner.association_id, region=owner.region, counsellor_id=owner.counsellor_id,
        audience=audience or _addressee(owner), severity=severity, loan_id=loan_id, application_id=application_id,
        message=message, **extra,
    )


def _followed_by(owner: FileOwnership) -> str:
    return owner.counsellor_id or "aucun conseiller (file partagée)"


def on_payment_missed(event: PaymentMissed, followup: LoanFollowUp) -> tuple[LoanFollowUp, list[AlertDraft]]:
    """The counsellor hears of every missed instalment, more urgently as the loan slips; the second in a row goes to the supervisors too."""
    d = event.data
    consecutive = followup.missed_streak > 0 and followup.last_missed_instalment == d.instalment_number - 1
    streak = followup.missed_streak + 1 if consecutive else 1
    days = max(followup.days_past_due, (d.business_date - d.due_date).days)
    stage = DelinquencyStage.of(days)
    updated = replace(
        followup, application_id=d.application_id, days_past_due=days, stage=stage,
        last_missed_instalment=d.instalment_number, missed_streak=streak,
    )
    severity: Severity = "critical" if days >= SUPERVISOR_DAYS_PAST_DUE or streak >= 2 else "warning"
    message = (
        f"Échéance n° {d.instalment_number} du {french.day(d.due_date)} impayée "
        f"({french.euros(d.amount_unpaid_cents)} sur {french.euros(d.amount_due_cents)}) : contacter l'emprunteur."
    )
    if severity == "critical":
        message += f" Prêt à {french.stage(stage)}, {streak} échéance(s) impayée(s) d'affilée : envisager un aménagement du calendrier."
    ids = {"loan_id": d.loan_id, "application_id": d.application_id}
    drafts = [_draft(event, d, severity, message, **ids)]
    if streak == 2:
        drafts.append(_draft(
            event, d, "critical",
            f"Deuxième échéance impayée d'affilée (n° {d.instalment_number} du {french.day(d.due_date)}) sur un prêt suivi par "
            f"{_followed_by(d)} : faire le point avec le conseiller sur un aménagement du calendrier.",
            audience="supervisor", escalation="consecutive_missed_instalments", **ids,
        ))
    return updated, drafts


def on_stage_changed(event: DelinquencyStageChanged, followup: LoanFollowUp) -> tuple[LoanFollowUp, list[AlertDraft]]:
    """Keep the loan's latest stage; a loan reaching 31 days past due goes to the supervisors."""
    d = event.data
    if followup.stage_as_of is not None and d.business_date < followup.stage_as_of:
        return replace(followup, application_id=d.application_id), []  # an older close of business, read late
    updated = replace(
        followup, application_id=d.application_id, stage=d.stage, days_past_due=d.days_past_due, stage_as_of=d.business_date,
        missed_streak=0 if d.stage == DelinquencyStage.CURRENT else followup.missed_streak,
    )
    if d.days_past_due < SUPERVISOR_DAYS_PAST_DUE or d.previous_stage not in EARLY_STAGES:
        return updated, []
    message = (
        f"Le prêt suivi par {_followed_by(d)} a atteint {d.days_past_due} jours de retard "
        f"(arriérés de {french.euros(d.arrears_cents)}) : vérifier l'accompagnement avec le conseiller "
        "et envisager un aménagement du calendrier avec la banque."
    )
    return updated, [_draft(
        event, d, "critical", message, loan_id=d.loan_id, application_id=d.application_id,
        audience="supervisor", escalation="thirty_one_days_past_due",
    )]


def on_loan_approved(event: LoanApproved) -> AlertDraft:
    """The bank said yes: the counsellor tells the applicant and prepares the disbursement."""
    d = event.data
    message = (
        f"La banque {d.bank_id} a accordé le prêt : {french.euros(d.amount_cents)} sur {d.duration_months} mois "
        f"à {french.rate(d.annual_rate)}, première échéance le {french.day(d.first_due_date)}. "
        "Prévenir le demandeur et préparer le décaissement."
    )
    return _draft(event, d, "info", message, application_id=d.application_id)


def on_loan_declined(event: LoanDeclined) -> AlertDraft:
    """The bank said no: the counsellor tells the applicant and looks for another answer."""
    d = event.data
    message = (
        f"La banque {d.bank_id} a refusé le prêt (motif : {d.reason}). "
        "Informer le demandeur et envisager une autre orientation (autre banque, aide sociale, accompagnement budgétaire)."
    )
    return _draft(event, d, "warning", message, application_id=d.application_id)


def on_loan_disbursed(event: LoanDisbursed) -> AlertDraft:
    """The money left the bank: the counsellor reminds the borrower of the first instalment."""
    d = event.data
    payee = "l'emprunteur" if d.payee == "borrower" else d.payee
    message = (
        f"Prêt décaissé le {french.day(d.disbursed_on)} : {french.euros(d.amount_cents)} versés à {payee}. "
        "Rappeler à l'emprunteur la date de la première échéance."
    )
    return _draft(event, d, "info", message, loan_id=d.loan_id, application_id=d.application_id)


def on_loan_rescheduled(event: LoanRescheduled, followup: LoanFollowUp) -> AlertDraft:
    """The bank accepted the adjustment: the counsellor explains the new calendar."""
    d = event.data
    message = (
        f"Aménagement accepté par la banque : nouvelle échéance de {french.euros(d.instalment_cents)} "
        f"({d.remaining_instalments} échéances restantes), prochaine échéance le {french.day(d.next_due_date)}. "
        "Expliquer le nouveau calendrier à l'emprunteur."
    )
    return _draft(event, d, "info", message, loan_id=d.loan_id, application_id=followup.application_id)


def on_adjustment_refused(event: AdjustmentRefused, followup: LoanFollowUp) -> AlertDraft:
    """The bank refused the adjustment: the counsellor looks for another solution with the borrower."""
    d = event.data
    message = (
        f"Aménagement refusé par la banque (motif : {d.reason}) : "
        "reprendre contact avec l'emprunteur pour chercher une autre solution."
    )
    return _draft(event, d, "warning", message, loan_id=d.loan_id, application_id=followup.application_id)


def on_bank_decision_overdue(event: BankDecisionOverdue) -> AlertDraft:
    """A file left without a bank decision: the counsellor chases the bank."""
    d = event.data
    message = (
        f"Aucune décision de la banque {d.bank_id} depuis {d.days_waiting} jours "
        f"(dossier transmis le {french.day(d.routed_on)}) : relancer la banque."
    )
    return _draft(event, d, "warning", message, application_id=d.application_id)


def incomplete_file(event: ApplicationAssessed) -> IncompleteFile | None:
    """The file to watch if the assessment found it incomplete."""
    d = event.data
    if d.outcome != "incomplete":
        return None
    return IncompleteFile(
        application_id=d.application_id, association_id=d.association_id, region=d.region, counsellor_id=d.counsellor_id,
        assessed_event_id=event.id, missing_documents=tuple(d.missing_documents), since=event.time,
    )


def still_missing(missing: tuple[str, ...], documents: dict[str, str] | None) -> tuple[str, ...]:
    """What the file still lacks once `documents` (the checklist as it is now) came in."""
    if documents is None:
        return missing
    return tuple(k for k in missing if documents.get(k, "missing") not in ("received", "verified"))


def incomplete_file_alert(file: IncompleteFile, now: datetime, after: timedelta) -> AlertDraft | None:
    """A file still incomplete `after` its assessment: the counsellor chases the documents."""
    if now - file.since < after:
        return None
    days = (now - file.since).days
    lacking = documents(file.missing_documents) or "pièces non précisées"
    owner = FileOwnership(association_id=file.association_id, region=file.region, counsellor_id=file.counsellor_id)
    return AlertDraft(
        cause_event_id=file.assessed_event_id, cause_type=ApplicationAssessed.event_type(),
        association_id=file.association_id, region=file.region, counsellor_id=file.counsellor_id,
        audience=_addressee(owner), severity="warning", application_id=file.application_id,
        message=f"Dossier incomplet depuis {days} jours : il manque {lacking}. Relancer le demandeur ou clore le dossier.",
    )


def escalation_of(alert: Alert, now: datetime) -> AlertDraft | None:
    """An alert left unacknowledged past its deadline goes to the association's supervisors (once)."""
    if alert.status != "open" or alert.escalate_at is None or alert.escalate_at > now or alert.escalated_at is not None:
        return None
    hours = int((now - alert.raised_at).total_seconds() // 3600)
    who = alert.counsellor_id if alert.audience == "counsellor" else "la file partagée de l'association"
    return AlertDraft(
        cause_event_id=alert.cause_event_id, cause_type=alert.cause_type,
        association_id=alert.association_id, region=alert.region, counsellor_id=alert.counsellor_id,
        audience="supervisor", severity=alert.severity, loan_id=alert.loan_id, application_id=alert.application_id,
        message=f"Alerte non prise en compte depuis {hours} h ({who}) : {alert.message}",
        escalation="not_acknowledged", escalated_from=alert.id,
    )
