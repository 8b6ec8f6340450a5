"""An admin's `PUT`: the entity's new state, its snapshot event and its audit entry, or nothing if nothing changed (pure).

The rules between entities are checked here with the facts the use case looked up: an association's
network and partner banks must exist, a contact's association or bank must exist, and what is still in
use cannot be deactivated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.directory.domain.entities import BANK, NETWORK, AssociationFields, ContactFields, Fields, Kind
from shared.auth import Actor
from shared.errors import BusinessRuleError
from shared.events import Envelope, PartnerTopics, new_event

SOURCE = "/services/directory"
ASSOCIATION_ROLES = frozenset({"counsellor", "supervisor"})


@dataclass(frozen=True)
class Stored:
    """An entity as the directory keeps it: its state (what the admin wrote, but `active`), whether in use, its version."""

    kind: Kind
    id: str
    state: dict[str, Any]
    active: bool
    version: int
    updated_at: datetime

    def document(self) -> dict[str, Any]:
        """The state as an admin wrote it: what the audit shows before and after a change."""
        return {**self.state, "active": self.active}

    def snapshot(self) -> Any:
        """The entity as the other services are told of it."""
        return self.kind.snapshot(**self.state, **{self.kind.id_field: self.id}, active=self.active, version=self.version)

    def view(self) -> BaseModel:
        """The entity as the API shows it."""
        return self.kind.view()(**self.snapshot().model_dump(), updated_at=self.updated_at)


class AuditEntry(BaseModel):
    """One change: who made it, when, and the entity before and after."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    actor: str = Field(description="The admin's user name (the token's subject).")
    actor_role: str
    action: str = Field(description="created, changed, deactivated or reactivated.")
    before: dict[str, Any] | None = Field(description="The whole state before (null at creation).")
    after: dict[str, Any] = Field(description="The whole state after.")


@dataclass(frozen=True)
class Change:
    """What a `PUT` changed: the entity now, its snapshot event, its audit entry, and whether it was created."""

    stored: Stored
    event: Envelope[Any]
    audit: AuditEntry

    @property
    def created(self) -> bool:
        """True when the entity did not exist before."""
        return self.audit.before is None


def put(kind: Kind, entity_id: str, fields: Fields, current: Stored | None, actor: Actor, now: datetime) -> Change | None:
    """The entity as `fields` say, one version more; None when it is already so (a repeated `PUT` changes nothing)."""
    if kind is BANK and current is None:
        _check_bank_id(entity_id)
    state = fields.model_dump(mode="json", exclude={"active"})
    if current is not None and current.state == state and current.active == fields.active:
        return None
    stored = Stored(kind, entity_id, state, fields.active, 1 if current is None else current.version + 1, now)
    snapshot = stored.snapshot()
    event = new_event(kind.event, source=SOURCE, subject=snapshot.subject(), time=now, data=snapshot)
    audit = AuditEntry(
        at=now, actor=actor.subject, actor_role=actor.role, action=_action(current, fields.active),
        before=current.document() if current is not None else None, after=stored.document(),
    )
    return Change(stored, event, audit)


def _action(current: Stored | None, active: bool) -> str:
    if current is None:
        return "created"
    if current.active != active:
        return "reactivated" if active else "deactivated"
    return "changed"


def deactivates(current: Stored | None, fields: Fields) -> bool:
    """Whether this `PUT` takes an entity in use out of use."""
    return current is not None and current.active and not fields.active


def refuse_deactivation(kind: Kind, entity_id: str, in_use: int) -> None:
    """A bank with files waiting for its decision, or a network with active associations, stays active (409, the count)."""
    if in_use == 0:
        return
    if kind is BANK:
        raise BusinessRuleError(
            f"{in_use} file(s) routed to {entity_id} wait for its decision: deactivate the bank once they are decided or withdrawn",
            field="active", rule="files_awaiting_decision",
        )
    if kind is NETWORK:
        raise BusinessRuleError(
            f"{in_use} active association(s) belong to the network {entity_id}: deactivate or move them first",
            field="active", rule="network_in_use",
        )


def check_association(fields: AssociationFields, network: Stored | None, known_banks: set[str]) -> None:
    """Its network exists (and is active if the association is), its banks exist, its branches are in its regions."""
    if network is None:
        raise _unknown("network_id", "network", fields.network_id)
    if fields.active and not network.active:
        raise BusinessRuleError(
            f"the network {fields.network_id} is deactivated: an active association cannot join it",
            field="network_id", rule="inactive_network", status=422,
        )
    for i, bank_id in enumerate(fields.partner_banks):
        if bank_id not in known_banks:
            raise _unknown(f"partner_banks.{i}", "bank", bank_id)
    seen: set[str] = set()
    for i, branch in enumerate(fields.branches):
        if branch.branch_id in seen:
            raise BusinessRuleError(
                f"the branch {branch.branch_id} is listed twice", field=f"branches.{i}.branch_id", rule="duplicate_branch", status=422
            )
        seen.add(branch.branch_id)
        if branch.region not in fields.regions:
            raise BusinessRuleError(
                f"the branch {branch.branch_id} is in {branch.region}, not one of the association's regions",
                field=f"branches.{i}.region", rule="region_not_listed", status=422,
            )


def check_contact(fields: ContactFields, association: Stored | None, bank: Stored | None) -> None:
    """Counsellors and supervisors belong to a known association, bank officers and technical contacts to a known bank."""
    belongs, other = ("association_id", "bank_id") if fields.role in ASSOCIATION_ROLES else ("bank_id", "association_id")
    if getattr(fields, other) is not None:
        raise BusinessRuleError(f"a {fields.role} has no {other}", field=other, rule="not_for_role", status=422)
    owner_id = getattr(fields, belongs)
    if owner_id is None:
        raise BusinessRuleError(f"a {fields.role} must name its {belongs}", field=belongs, rule="required_for_role", status=422)
    if (association if belongs == "association_id" else bank) is None:
        raise _unknown(belongs, belongs.removesuffix("_id"), owner_id)


def _check_bank_id(bank_id: str) -> None:
    """A new bank's id names its three Kafka topics (`microcredit.partner.<bank_id>.v1`…): it must be able to."""
    try:
        PartnerTopics.feed(bank_id)
    except ValueError:
        raise BusinessRuleError(
            f"a bank id names its Kafka topics: lowercase letters, digits and dashes only, 63 at most ({bank_id!r})",
            field="bank_id", rule="topic_name", status=422,
        ) from None


def _unknown(field: str, kind: str, ident: str) -> BusinessRuleError:
    return BusinessRuleError(f"no {kind} {ident} in the directory", field=field, rule=f"unknown_{kind}", status=422)
