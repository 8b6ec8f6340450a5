"""For notifications' tests: a real SMTP server, a real HTTP receiver for webhooks, and the events they react to."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller

from shared.events import (
    AdjustmentRefused,
    ApplicationAssessed,
    ApplicationRouted,
    DelinquencyStageChanged,
    LoanDeclined,
    LoanDisbursed,
    LoanRescheduled,
    PaymentReceived,
    new_event,
)
from shared.events import (
    AdjustmentRefusedData,
    AdjustmentTerms,
    ApplicationAssessedData,
    ApplicationRoutedData,
    BudgetDiagnostic,
    DelinquencyStageChangedData,
    LoanDeclinedData,
    LoanDisbursedData,
    LoanRescheduledData,
    PaymentReceivedData,
)
from tests.integration.conftest import payment_missed
from tests.support import tokens

OWNER = {"association_id": "secours-catholique", "region": "hauts-de-france", "counsellor_id": "c-lefebvre"}
def configure(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> None:
    """Notifications' settings for the next service started: quiet background workers, and `settings` (the addresses
    are the tests' directory, delivered when the service starts)."""
    values: dict[str, Any] = {
        "NOTIFICATIONS_PUBLIC_BASE_URL": "https://alertes.microcredit.example",
        # The tests run the timers and workers themselves (POST /operations/timers), at the clock they set.
        "NOTIFICATIONS_TIMER_INTERVAL_SECONDS": 3600,
        "NOTIFICATIONS_DELIVERY_INTERVAL_SECONDS": 3600,
        **{f"NOTIFICATIONS_{k.upper()}": v for k, v in settings.items()},
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value if isinstance(value, str) else json.dumps(value))


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a real SMTP server ----------------------------------------------------------------------------


@dataclass
class Received:
    """One e-mail the SMTP server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")  # SMTP carries CRLF line ends


@dataclass
class MailServer:
    """An SMTP server (aiosmtpd) that can refuse the first messages with a temporary or permanent error."""

    port: int = 0
    refuse_first: int = 0
    refusal: str = "451 4.3.0 Service momentanément indisponible, réessayez plus tard"
    received: list[Received] = field(default_factory=list)
    attempts: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.refuse_first > 0:
            self.refuse_first -= 1
            return self.refusal
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 2.0.0 Message accepté"


@contextmanager
def smtp_server(**options: Any) -> Iterator[MailServer]:
    """A real SMTP server on a free local port for the duration of the block."""
    server = MailServer(port=free_port(), **options)
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


# --- a real HTTP receiver for webhooks -----------------------------------------------------------


@dataclass
class Hook:
    """One POST the bank's endpoint received."""

    headers: dict[str, str]
    body: bytes
    signed: bool
    answered: int

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


def verify(secret: str, header: str, body: bytes, *, now: datetime, tolerance_seconds: int = 300) -> bool:
    """What a bank's receiver does with `X-Microcredit-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`:
    recompute the HMAC, compare in constant time, refuse a stale timestamp."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(now.timestamp() - stamp) <= tolerance_seconds
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass
class BankEndpoint:
    """A bank's webhook endpoint: checks the signature, counts deliveries, can fail the first ones, can answer slowly."""

    now: Callable[[], datetime]
    fail_first: int = 0
    failure_status: int = 503
    answer_after_seconds: float = 0.0
    secret: str = ""
    port: int = 0
    hooks: list[Hook] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/microcredit/webhooks"

    def delivered(self) -> list[Hook]:
        """What was accepted (2xx)."""
        return [h for h in self.hooks if 200 <= h.answered < 300]


@contextmanager
def bank_endpoint(now: Callable[[], datetime], **options: Any) -> Iterator[BankEndpoint]:
    """An HTTP server (http.server, in a thread) playing the bank's receiver."""
    endpoint = BankEndpoint(now=now, **options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            signed = verify(endpoint.secret, headers.get("x-microcredit-signature", ""), body, now=endpoint.now())
            status = 204 if signed else 401
            if endpoint.fail_first > 0:
                endpoint.fail_first -= 1
                status = endpoint.failure_status
            endpoint.hooks.append(Hook(headers, body, signed, status))
            time.sleep(endpoint.answer_after_seconds)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- events -------------------------------------------------------------------------------------------


def _at(time: datetime | None) -> datetime:
    return time or datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def application_routed(application_id: UUID, bank_id: str = "credit-mutuel-nord", **owner: Any) -> ApplicationRouted:
    """Assessment routes Nadia Benali's 3,000 € file to a bank."""
    return new_event(
        ApplicationRouted, source="/services/assessment", subject=str(application_id), time=_at(None),
        data=ApplicationRoutedData(
            **{**OWNER, **owner}, application_id=application_id, bank_id=bank_id, amount_cents=300_000, duration_months=36,
            annual_rate="0.035",  # type: ignore[arg-type]
        ),
    )


def loan_declined(application_id: UUID, bank_id: str = "credit-mutuel-nord") -> LoanDeclined:
    """The bank declines the file."""
    return new_event(
        LoanDeclined, source="/services/assessment", subject=str(application_id), time=_at(None),
        data=LoanDeclinedData(**OWNER, application_id=application_id, bank_id=bank_id, reason="Reste à vivre jugé insuffisant"),
    )


def loan_disbursed(loan_id: UUID, application_id: UUID, **owner: Any) -> LoanDisbursed:
    """The bank paid the garage."""
    return new_event(
        LoanDisbursed, source="/services/servicing", subject=str(loan_id), time=_at(None),
        data=LoanDisbursedData(
            **{**OWNER, **owner}, loan_id=loan_id, application_id=application_id, amount_cents=300_000,
            disbursed_on=date(2026, 3, 2), payee="Garage Dupont, Lens",
        ),
    )


def payment_received(loan_id: UUID) -> PaymentReceived:
    """The first instalment arrives by transfer."""
    return new_event(
        PaymentReceived, source="/services/servicing", subject=str(loan_id), time=_at(None),
        data=PaymentReceivedData(
            **OWNER, loan_id=loan_id, payment_id=uuid4(), bank_reference="VIR-2026-04-05-0001", amount_cents=8_791,
            received_on=date(2026, 4, 5),
        ),
    )


def stage_changed(loan_id: UUID, application_id: UUID, previous: str, stage: str, days: int) -> DelinquencyStageChanged:
    """The close of business moves the loan to another stage."""
    return new_event(
        DelinquencyStageChanged, source="/services/servicing", subject=str(loan_id), time=_at(None),
        data=DelinquencyStageChangedData(
            **OWNER, loan_id=loan_id, application_id=application_id, previous_stage=previous, stage=stage,
            days_past_due=days, arrears_cents=17_582, business_date=date(2026, 5, 6),
        ),
    )


def loan_rescheduled(loan_id: UUID) -> LoanRescheduled:
    """The bank grants a 12-month extension."""
    return new_event(
        LoanRescheduled, source="/services/servicing", subject=str(loan_id), time=_at(None),
        data=LoanRescheduledData(
            **OWNER, loan_id=loan_id, adjustment_id=uuid4(), terms=AdjustmentTerms(kind="extension", months=12),
            schedule_version=2, principal_outstanding_cents=240_000, instalment_cents=6_210, remaining_instalments=40,
            next_due_date=date(2026, 6, 5),
        ),
    )


def adjustment_refused(loan_id: UUID) -> AdjustmentRefused:
    """The bank refuses a pause."""
    return new_event(
        AdjustmentRefused, source="/services/servicing", subject=str(loan_id), time=_at(None),
        data=AdjustmentRefusedData(**OWNER, loan_id=loan_id, adjustment_id=uuid4(), reason="Deux pauses déjà accordées"),
    )


def assessed_incomplete(application_id: UUID, missing: list[str], at: datetime, **owner: Any) -> ApplicationAssessed:
    """The counsellor finds the file incomplete."""
    return new_event(
        ApplicationAssessed, source="/services/assessment", subject=str(application_id), time=at,
        data=ApplicationAssessedData(
            **{**OWNER, **owner}, application_id=application_id, outcome="incomplete",
            diagnostic=BudgetDiagnostic(
                monthly_resources_cents=135_000, monthly_charges_cents=82_000, monthly_instalment_cents=8_791,
                remaining_after_instalment_cents=44_209,
            ),
            opinion="Dossier à compléter avant passage en comité.", missing_documents=missing,
        ),
    )


def days(n: float) -> timedelta:
    """n days."""
    return timedelta(days=n)


# --- a prepared notifications service, for the authorisation and bad-input tests -----------------

HOOK_URL = "https://webhooks.credit-mutuel-nord.example/microcredit"


async def prepare(service: Any) -> dict[str, str]:
    """c-lefebvre's open and resolved alerts, a shared-queue alert, a supervisors' alert; Crédit Mutuel Nord's subscription and a delivery."""
    loan_id, application_id = uuid4(), uuid4()
    await service.deliver(payment_missed())
    await service.deliver(payment_missed(counsellor_id=""))
    await service.deliver(stage_changed(loan_id, application_id, "1-30", "31-60", 31))
    supervisor = tokens.bearer(tokens.supervisor())
    ids = {}
    for name, audience in (("alert", "counsellor"), ("shared_alert", "association"), ("supervisor_alert", "supervisor")):
        found = await service.http.get("/alerts", params={"audience": audience}, headers=supervisor)
        ids[name] = found.json()[0]["id"]
    closed = payment_missed()
    await service.deliver(closed)
    [ids["resolved_alert"]] = [a["id"] for a in (await service.http.get("/alerts", params={"loan_id": str(closed.data.loan_id)}, headers=supervisor)).json()]
    resolved = await service.http.post(f"/alerts/{ids['resolved_alert']}/resolution", json={"note": "Régularisé par virement."}, headers=supervisor)
    assert resolved.status_code == 200, resolved.text
    bank = tokens.bearer(tokens.bank("credit-mutuel-nord"))
    created = await service.http.post(
        "/webhooks/subscriptions", json={"url": HOOK_URL, "event_types": ["fr.microcredit.application.routed.v1"]}, headers=bank
    )
    assert created.status_code == 201, created.text
    ids["subscription"] = created.json()["id"]
    await service.deliver(application_routed(application_id))
    log = await service.http.get(f"/webhooks/subscriptions/{ids['subscription']}/deliveries", headers=bank)
    ids["delivery"] = log.json()[0]["id"]
    return ids
