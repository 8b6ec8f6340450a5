"""Intake domain: first contacts, the file a counsellor builds, its checklist, its life and the funnel (pure, no I/O)."""

from services.intake.domain.documents import (
    ChecklistItem,
    DocumentKind,
    DocumentRecord,
    DocumentState,
    DocumentStatus,
    required_documents,
)
from services.intake.domain.file import (
    Address,
    Applicant,
    Application,
    Contact,
    FileChanges,
    FileContent,
    Household,
    Project,
    Status,
)
from services.intake.domain.change import AuditEntry, Change, Milestone
from services.intake.domain.contacts import (
    ContactOutcome,
    FirstContact,
    NewFirstContact,
    NotEligibleReason,
    check_contact,
    log_contact,
)
from services.intake.domain.contract import SOURCE, file_data
from services.intake.domain.funnel import STAGES, Funnel, FunnelCounts, FunnelRow, check_period, funnel
from services.intake.domain.lifecycle import (
    Submission,
    Withdrawal,
    check_dates,
    edit_file,
    missing_for_submission,
    open_file,
    submit_file,
    withdraw_file,
)
from services.intake.domain.progress import ASSESSED, Progress, record_progress

__all__ = [
    "ASSESSED",
    "SOURCE",
    "STAGES",
    "Address",
    "Applicant",
    "Application",
    "AuditEntry",
    "Change",
    "ChecklistItem",
    "Contact",
    "ContactOutcome",
    "DocumentKind",
    "DocumentRecord",
    "DocumentState",
    "DocumentStatus",
    "FileChanges",
    "FileContent",
    "FirstContact",
    "Funnel",
    "FunnelCounts",
    "FunnelRow",
    "Household",
    "Milestone",
    "NewFirstContact",
    "NotEligibleReason",
    "Progress",
    "Project",
    "Status",
    "Submission",
    "Withdrawal",
    "check_contact",
    "check_dates",
    "check_period",
    "edit_file",
    "file_data",
    "funnel",
    "log_contact",
    "missing_for_submission",
    "open_file",
    "record_progress",
    "required_documents",
    "submit_file",
    "withdraw_file",
]
