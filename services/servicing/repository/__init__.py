"""SQL for servicing's own tables: loans and schedules, payments, adjustments and schedule history, the recorded runs.

The close of business's statements are in `repository.close_of_business`.
"""

from services.servicing.repository.adjustments import (
    adjustments,
    archive_version,
    current_version_origin,
    get_adjustment,
    insert_adjustment,
    open_adjustment,
    save_answer,
    schedule_versions,
)
from services.servicing.repository.cob_runs import cob_run, cob_runs
from services.servicing.repository.loans import (
    find_loans,
    followed_loans,
    get_loan,
    get_loan_versioned,
    insert_loan,
    instalments,
    save_instalments,
    save_loan,
    schedules,
    store_disbursement,
)
from services.servicing.repository.payments import (
    insert_payment,
    mark_reversed,
    payment_by_id,
    payment_by_reference,
    payments,
)

__all__ = [
    "adjustments",
    "archive_version",
    "cob_run",
    "cob_runs",
    "current_version_origin",
    "find_loans",
    "followed_loans",
    "get_adjustment",
    "get_loan",
    "get_loan_versioned",
    "insert_adjustment",
    "insert_loan",
    "insert_payment",
    "instalments",
    "mark_reversed",
    "open_adjustment",
    "payment_by_id",
    "payment_by_reference",
    "payments",
    "save_answer",
    "save_instalments",
    "save_loan",
    "schedule_versions",
    "schedules",
    "store_disbursement",
]
