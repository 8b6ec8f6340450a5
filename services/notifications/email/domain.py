"""E-mail: whom an alert is for and, at sending time, at which addresses; how a counsellor wants their e-mails; ids (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, Field

from services.notifications.alerts.domain import Alert
from services.notifications.settings import NotificationsSettings

EMAIL_ID_NAMESPACE = UUID("5e1d2c3b-4a59-4f8e-a7d6-c5b4a3928170")
DeliveryKind = Literal["alert", "reminder", "digest", "bank_contact"]
EmailMode = Literal["immediate", "daily_digest"]
AddresseeKind = Literal["counsellor", "association", "supervisors", "bank"]


class EmailPreference(BaseModel):
    """How a counsellor wants their alerts by e-mail."""

    counsellor_id: str
    mode: EmailMode = Field(
        description="immediate: one e-mail per alert; daily_digest: one e-mail a day (critical alerts still at once)."
    )
    digest_hour: int = Field(ge=0, le=23, description="Local hour (association's time zone) of the daily digest.")
    updated_at: datetime | None = None


def default_preference(counsellor_id: str, settings: NotificationsSettings) -> EmailPreference:
    """A counsellor who chose nothing gets one e-mail per alert."""
    return EmailPreference(counsellor_id=counsellor_id, mode="immediate", digest_hour=settings.default_digest_hour)


def email_id(*parts: object) -> UUID:
    """A delivery id derived from what it delivers: writing it twice writes it once."""
    return uuid5(EMAIL_ID_NAMESPACE, ":".join(str(p) for p in parts))


class NoAddress(Exception):
    """The directory gives no address for an e-mail's addressee (yet): it is retried like a temporary failure."""


@dataclass(frozen=True)
class Addressee:
    """Whom an e-mail is for, not at which address: the address is the directory's at the time it is sent.

    `counsellor` (id: the counsellor; else their association's shared mailbox), `association` (id: the
    association; its shared mailbox, else its supervisors), `supervisors` (id: the association) or
    `bank` (id: the bank; its technical contacts).
    """

    kind: AddresseeKind
    id: str
    association_id: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class AddressBook:
    """What the directory says, at sending time, of the addresses an addressee may be reached at."""

    own: str | None = None
    shared_mailbox: str | None = None
    supervisors: tuple[str, ...] = ()
    bank_technical: tuple[str, ...] = ()


def addressee_for(alert: Alert) -> Addressee:
    """Whom an alert's e-mail is for: its counsellor, the association's shared queue, or its supervisors."""
    if alert.audience == "supervisor":
        return Addressee("supervisors", alert.association_id, alert.association_id)
    if alert.audience == "association":
        return Addressee("association", alert.association_id, alert.association_id)
    return Addressee("counsellor", alert.counsellor_id, alert.association_id)


def addresses(addressee: Addressee, book: AddressBook) -> list[str]:
    """The addresses to send to now; NoAddress if the directory has none for the addressee."""
    shared = [book.shared_mailbox] if book.shared_mailbox else []
    found = {
        "counsellor": [book.own] if book.own else shared,
        "association": shared or list(book.supervisors),
        "supervisors": list(book.supervisors),
        "bank": list(book.bank_technical),
    }[addressee.kind]
    if not found:
        raise NoAddress(f"the directory has no e-mail address for the {addressee}")
    return found


def may_wait_for_digest(alert: Alert, has_own_address: bool) -> bool:
    """Only a counsellor's own alert, not critical, for a counsellor with their own address, may wait for their daily digest."""
    return alert.audience == "counsellor" and alert.severity != "critical" and has_own_address
