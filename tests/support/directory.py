"""The directory the tests' services know: Secours Catholique in the Hauts-de-France with its two partner banks and its people.

`snapshots()` are the directory's events as the directory service would publish them; the integration
fixtures deliver them to assessment and notifications before a test starts, as the directory's topic
would (its snapshots are kept for ever on a compacted topic).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.events import (
    DirectoryAssociation,
    DirectoryAssociationData,
    DirectoryBank,
    DirectoryBankData,
    DirectoryContact,
    DirectoryContactData,
    DirectoryNetwork,
    DirectoryNetworkData,
    Envelope,
    new_event,
)

SOURCE = "/services/directory"
CHANGED_AT = datetime(2026, 2, 16, 10, 0, tzinfo=UTC)

CLAIRE = "claire.lefebvre@secours-catholique.example"
SOPHIE = "sophie.marchand@secours-catholique.example"
SHARED_MAILBOX = "microcredit.hdf@secours-catholique.example"
BANK_CONTACT = "microcredit.hauts-de-france@secours-catholique.example"
CMN_TECHNICAL = "api-support@credit-mutuel-nord.example"


def network(network_id: str = "secours-catholique-caritas", version: int = 1, **data: Any) -> DirectoryNetwork:
    """The Secours Catholique's network: 300 € per consumption unit, a third of the resources at most."""
    fields = {"name": "Secours Catholique – Caritas France", "min_remaining_per_unit_cents": 300_00,
              "max_instalment_share": "0.33", "active": True, **data}
    return _event(DirectoryNetwork, DirectoryNetworkData(network_id=network_id, version=version, **fields))


def association(association_id: str = "secours-catholique", version: int = 1, **data: Any) -> DirectoryAssociation:
    """The Secours Catholique in the Hauts-de-France, routing files to Crédit Mutuel Nord and La Banque Postale."""
    fields = {
        "name": "Secours Catholique – délégation du Pas-de-Calais", "network_id": "secours-catholique-caritas",
        "regions": ["hauts-de-france"], "branches": [{"branch_id": "lens-centre", "name": "Antenne de Lens centre", "region": "hauts-de-france"}],
        "partner_banks": ["credit-mutuel-nord", "la-banque-postale"], "bank_contact": BANK_CONTACT, "shared_mailbox": SHARED_MAILBOX,
        "active": True, **data,
    }
    return _event(DirectoryAssociation, DirectoryAssociationData(association_id=association_id, version=version, **fields))


def bank(bank_id: str = "credit-mutuel-nord", version: int = 1, **data: Any) -> DirectoryBank:
    """A partner bank, active."""
    names = {"credit-mutuel-nord": "Crédit Mutuel Nord Europe", "la-banque-postale": "La Banque Postale"}
    fields = {"name": names.get(bank_id, bank_id), "active": True, **data}
    return _event(DirectoryBank, DirectoryBankData(bank_id=bank_id, version=version, **fields))


def contact(username: str, email: str, role: str, version: int = 1, **data: Any) -> DirectoryContact:
    """A person's contact (a counsellor's or supervisor's at the Secours Catholique unless told otherwise)."""
    owner = {"association_id": "secours-catholique", "bank_id": None} if role in ("counsellor", "supervisor") else {"association_id": None}
    fields = {"display_name": username, "active": True, **owner, **data}
    return _event(DirectoryContact, DirectoryContactData(username=username, email=email, role=role, version=version, **fields))


def snapshots() -> list[Envelope[Any]]:
    """The whole directory of the tests, as its topic holds it."""
    return [
        network(),
        bank("credit-mutuel-nord"),
        bank("la-banque-postale"),
        association(),
        contact("c-lefebvre", CLAIRE, "counsellor", display_name="Claire Lefebvre"),
        contact("c-roux", "martin.roux@secours-catholique.example", "counsellor", display_name="Martin Roux"),
        contact("s-marchand", SOPHIE, "supervisor", display_name="Sophie Marchand"),
        contact("t-cmn", CMN_TECHNICAL, "bank_technical", display_name="Support API", bank_id="credit-mutuel-nord"),
    ]


def _event(event_cls: type[Any], data: Any) -> Any:
    return new_event(event_cls, source=SOURCE, subject=data.subject(), time=CHANGED_AT, data=data)


def put_body(snapshot: Envelope[Any]) -> tuple[str, dict[str, Any]]:
    """The admin API's `PUT` that makes a snapshot: its path and its body (the state, without id and version)."""
    data = snapshot.data
    kind_id = {"networks": "network_id", "associations": "association_id", "banks": "bank_id", "contacts": "username"}
    path = data.subject()
    body = data.model_dump(mode="json", exclude={kind_id[path.partition("/")[0]], "version"})
    return f"/{path}", body
