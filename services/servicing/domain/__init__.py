"""Servicing domain (pure): loans and schedules, payments and the ledger, adjustments, delinquency and write-off."""

from services.servicing.domain.access import visible
from services.servicing.domain.adjustments import (
    Adjustment,
    AdjustmentAnswer,
    AdjustmentRequest,
    answer_adjustment,
    request_adjustment,
)
from services.servicing.domain.close_of_business import ChunkDone, CloseOfBusinessRun, CobPolicy, RecordedRun
from services.servicing.domain.ledger import (
    LedgerChange,
    allocate,
    due_cents,
    payoff_cents,
    receive_payment,
    reverse_payment,
)
from services.servicing.domain.loans import (
    SOURCE,
    Disbursement,
    Instalment,
    Loan,
    LoanStatus,
    as_instalments,
    disburse,
    loan_event,
    loan_id_for,
    open_loan,
    taeg,
)
from services.servicing.domain.payments import (
    Allocation,
    NewPayment,
    Payment,
    Reversal,
    is_repeated_reversal,
    payment_id_for,
)
from services.servicing.domain.rescheduling import Preview, Terms, plan, preview
from services.servicing.domain.writeoff import write_off

__all__ = [
    "Adjustment",
    "AdjustmentAnswer",
    "AdjustmentRequest",
    "Allocation",
    "ChunkDone",
    "CloseOfBusinessRun",
    "CobPolicy",
    "Disbursement",
    "Instalment",
    "LedgerChange",
    "Loan",
    "LoanStatus",
    "NewPayment",
    "Payment",
    "Preview",
    "RecordedRun",
    "Reversal",
    "SOURCE",
    "Terms",
    "allocate",
    "answer_adjustment",
    "as_instalments",
    "disburse",
    "due_cents",
    "is_repeated_reversal",
    "loan_event",
    "loan_id_for",
    "open_loan",
    "payment_id_for",
    "payoff_cents",
    "plan",
    "preview",
    "receive_payment",
    "request_adjustment",
    "reverse_payment",
    "taeg",
    "visible",
    "write_off",
]
