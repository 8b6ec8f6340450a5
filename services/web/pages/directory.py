"""The directory, for its administrators: the networks, associations, partner banks and contacts; each entry's page with
its change history and its form; a form to add an entry of each kind.

The directory decides: a refused value comes back next to its field with what was typed kept, and nothing is saved.
Its `PUT` takes an entry's whole state, so the form sends every field (an association's branches as they are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web import labels
from services.web.backends import BackendError
from services.web.context import CheckedForm, Context, Person, SignedIn, WebContext
from services.web.forms import Reading, compact, euros_typed
from services.web.problems import SENTENCES, path_errors

router = APIRouter()
# As the directory writes an id: a letter or digit first, then letters, digits, `_ . : -`.
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
LISTED = 500  # the directory's largest page: more entries than any deployment has


@dataclass(frozen=True)
class Kind:
    """One kind of entry: its address here, its collection at the directory, and its words."""

    slug: str  # "reseaux": /annuaire/reseaux/{id}
    path: str  # "networks": the directory's collection
    title: str  # "Réseau"
    a_new: str  # "un nouveau réseau"
    fields: tuple[str, ...]  # what its form shows, by the directory's names


KINDS = {
    kind.slug: kind for kind in (
        Kind("associations", "associations", "Association", "une nouvelle association",
             ("name", "network_id", "regions", "partner_banks", "bank_contact", "shared_mailbox", "active")),
        Kind("banques", "banks", "Banque partenaire", "une nouvelle banque partenaire", ("name", "active")),
        Kind("reseaux", "networks", "Réseau", "un nouveau réseau", ("name", "min_remaining_per_unit_cents", "max_instalment_share", "active")),
        Kind("contacts", "contacts", "Contact", "un nouveau contact", ("display_name", "email", "role", "association_id", "bank_id", "active")),
    )
}
FIELD_LABELS = {
    "name": "Nom", "display_name": "Nom", "network_id": "Réseau", "regions": "Régions", "branches": "Antennes",
    "partner_banks": "Banques partenaires", "bank_contact": "Adresse e-mail donnée aux banques", "shared_mailbox": "Boîte aux lettres partagée",
    "min_remaining_per_unit_cents": "Reste à vivre minimal par unité de consommation et par mois",
    "max_instalment_share": "Part maximale des ressources pour l'échéance", "email": "Adresse e-mail", "role": "Rôle",
    "association_id": "Association", "bank_id": "Banque", "active": "En service",
}
CONFLICT = "Cette entrée a changé entre-temps ou ne peut pas changer ainsi : rechargez la page pour voir où elle en est."


def kind_of(slug: str) -> Kind:
    """The kind an address names; any other is an unknown page."""
    if slug not in KINDS:
        raise HTTPException(404)
    return KINDS[slug]


def entry_id(kind: Kind, entry: dict[str, Any]) -> str:
    """An entry's id, whatever its kind calls it."""
    return str(entry.get({"networks": "network_id", "associations": "association_id", "banks": "bank_id"}.get(kind.path, "username")))


def percent_typed(share: Any) -> str:
    """A share as a person types it back, in percent (`"0.335"` → `33,5`); empty when unset."""
    if share is None:
        return ""
    return format((Decimal(str(share)) * 100).normalize(), "f").replace(".", ",")


def shown(field: str, value: Any) -> str:
    """A field's value in an entry's history, as a person reads it."""
    if field == "active":
        return "oui" if value else "non"
    if value is None or value == []:
        return "valeur par défaut de la plateforme" if field in ("min_remaining_per_unit_cents", "max_instalment_share") else "—"
    if field == "min_remaining_per_unit_cents":
        return labels.euros(value)
    if field == "max_instalment_share":
        return labels.rate(value)
    if field == "role":
        return labels.CONTACT_ROLE.get(value, value)
    if field == "branches":
        return ", ".join(f"{b.get('name')} ({b.get('region')})" for b in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def history(trail: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes, newest first, each with what it changed in words."""
    lines = []
    for entry in reversed(trail):
        before, after = entry.get("before") or {}, entry.get("after") or {}
        changed = [
            (FIELD_LABELS.get(f, f), shown(f, before.get(f)) if entry.get("before") else None, shown(f, after.get(f)))
            for f in after if before.get(f) != after.get(f) or not entry.get("before")
        ]
        lines.append({**entry, "changes": changed})
    return lines


def values_of(kind: Kind, entry: dict[str, Any] | None) -> dict[str, Any]:
    """What the form shows of an entry as it is (an empty form for a new one)."""
    if entry is None:
        return {"active": True, "partner_banks": set()}
    return {
        **{f: entry.get(f) or "" for f in kind.fields},
        "min_remaining_per_unit_cents": euros_typed(entry.get("min_remaining_per_unit_cents")),
        "max_instalment_share": percent_typed(entry.get("max_instalment_share")),
        "regions": ", ".join(entry.get("regions") or []),
        "partner_banks": set(entry.get("partner_banks") or []),
        "active": bool(entry.get("active")),
    }


def typed_values(form: dict[str, str]) -> dict[str, Any]:
    """What the form shows again after a refusal: exactly what was typed and ticked."""
    return {
        **form, "active": "active" in form,
        "partner_banks": {k.removeprefix("banque-") for k in form if k.startswith("banque-")},
    }


def read_body(kind: Kind, form: dict[str, str], current: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The entry's whole new state from the form, and the fields the workspace could not read."""
    reading = Reading(form)
    body: dict[str, Any] = {"active": reading.flag("active")}
    if kind.path == "networks":
        body |= {
            "name": reading.text("name"),
            "min_remaining_per_unit_cents": reading.cents("min_remaining_per_unit_cents"),
            "max_instalment_share": reading.rate("max_instalment_share"),
        }
    elif kind.path == "banks":
        body |= {"name": reading.text("name")}
    elif kind.path == "associations":
        body |= {
            "name": reading.text("name"), "network_id": reading.text("network_id"),
            "regions": [r.strip() for r in (reading.text("regions") or "").split(",") if r.strip()],
            "branches": (current or {}).get("branches") or [],
            "partner_banks": sorted(k.removeprefix("banque-") for k in form if k.startswith("banque-")),
            "bank_contact": reading.text("bank_contact"), "shared_mailbox": reading.text("shared_mailbox"),
        }
    else:
        body |= {
            "display_name": reading.text("display_name"), "email": reading.text("email"), "role": reading.text("role"),
            "association_id": reading.text("association_id"), "bank_id": reading.text("bank_id"),
        }
    return compact(body), reading.errors


def refusal(kind: Kind, refused: BackendError) -> dict[str, str]:
    """The directory's refusal by field of the form; what no field shows (or a 409) is said above the form."""
    if refused.status == 409:
        rules = [str(e.get("rule", "")) for e in refused.problem.get("errors", [])]
        return {"": next((SENTENCES[r] for r in rules if r in SENTENCES), CONFLICT)}
    errors: dict[str, str] = {}
    for field, text in path_errors(refused).items():
        first = field.split(".")[0]
        errors.setdefault(first if first in kind.fields else "", text)
    return errors


async def choices(ctx: WebContext, person: Person, kind: Kind) -> dict[str, Any]:
    """What the form's lists offer: the networks, the partner banks, the associations."""
    wanted = {"associations": ("networks", "banks"), "contacts": ("associations", "banks")}.get(kind.path, ())
    found = {}
    for path in wanted:
        found[path] = await ctx.backends.call("directory", "GET", f"/{path}", person.token, params={"limit": LISTED})
    return found


async def entry_page(
    request: Request, person: Person, ctx: WebContext, kind: Kind, ident: str, *, status_code: int = 200,
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, saved: bool = False,
) -> HTMLResponse:
    """An entry: what it holds, its form, its history (an unknown one: « introuvable »)."""
    entry = await ctx.backends.call("directory", "GET", f"/{kind.path}/{ident}", person.token)
    trail = await ctx.backends.call("directory", "GET", f"/{kind.path}/{ident}/audit", person.token, params={"limit": LISTED})
    network = None
    if kind.path == "associations":
        network = await ctx.backends.call("directory", "GET", f"/networks/{entry['network_id']}", person.token)
    return ctx.render(
        request, "annuaire_fiche.html", person, status_code=status_code, kind=kind, entry=entry, ident=ident, network=network,
        values=values or values_of(kind, entry), errors=errors or {}, history=history(trail), saved=saved,
        **await choices(ctx, person, kind),
    )


def new_page(
    request: Request, person: Person, ctx: WebContext, kind: Kind, listed: dict[str, Any], *, status_code: int = 200,
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
) -> HTMLResponse:
    """The form of a new entry."""
    return ctx.render(
        request, "annuaire_fiche.html", person, status_code=status_code, kind=kind, entry=None, ident=None, network=None,
        values=values or values_of(kind, None), errors=errors or {}, history=[], saved=False, **listed,
    )


@router.get("/annuaire")
async def directory(request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """Every entry of each kind, each linking to its page (contacts are personal data: admins only, the directory says)."""
    listed = {
        kind.path: await ctx.backends.call("directory", "GET", f"/{kind.path}", person.token, params={"limit": LISTED})
        for kind in (KINDS["contacts"], KINDS["associations"], KINDS["banques"], KINDS["reseaux"])
    }
    return ctx.render(request, "annuaire.html", person, **listed)


@router.get("/annuaire/{slug}/nouveau")
async def new_entry(slug: str, request: Request, person: SignedIn, ctx: Context) -> HTMLResponse:
    """An empty form for a new entry of this kind."""
    kind = kind_of(slug)
    # Only admins read the trails: asking for one first answers 403 to anyone else, as the directory's pages do.
    await ctx.backends.call("directory", "GET", "/contacts", person.token, params={"limit": 1})
    return new_page(request, person, ctx, kind, await choices(ctx, person, kind))


@router.post("/annuaire/{slug}/nouveau")
async def add_entry(slug: str, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Add the entry under the id typed (the directory's `PUT` with a new id); an id already taken is refused here."""
    kind = kind_of(slug)
    listed = await choices(ctx, person, kind)
    body, errors = read_body(kind, form, None)
    ident = form.get("id", "").strip()
    if not IDENTIFIER.fullmatch(ident):
        errors["id"] = "Un identifiant s'écrit en lettres sans accents, chiffres et tirets, par exemple banque-du-nord."
    else:
        try:
            await ctx.backends.call("directory", "GET", f"/{kind.path}/{ident}", person.token)
            errors["id"] = "Cet identifiant est déjà pris : choisissez-en un autre."
        except BackendError as unknown:
            if unknown.status != 404:
                raise
    if errors:
        return new_page(request, person, ctx, kind, listed, status_code=422, values=typed_values(form), errors=errors)
    try:
        await ctx.backends.call("directory", "PUT", f"/{kind.path}/{ident}", person.token, body=body)
    except BackendError as refused:
        if refused.status not in (409, 422):
            raise
        return new_page(request, person, ctx, kind, listed, status_code=refused.status, values=typed_values(form), errors=refusal(kind, refused))
    return RedirectResponse(f"/annuaire/{kind.slug}/{ident}?enregistre=1", status_code=303)


@router.get("/annuaire/{slug}/{ident}")
async def entry(slug: str, ident: str, request: Request, person: SignedIn, ctx: Context, enregistre: str | None = None) -> HTMLResponse:
    """An entry's page: what it holds, the form to change it, who changed what and when."""
    kind = kind_of(slug)
    if not IDENTIFIER.fullmatch(ident):
        raise HTTPException(404)
    return await entry_page(request, person, ctx, kind, ident, saved=enregistre is not None)


@router.post("/annuaire/{slug}/{ident}")
async def change_entry(slug: str, ident: str, request: Request, person: SignedIn, form: CheckedForm, ctx: Context) -> Response:
    """Send the entry's new state; a refusal shows next to its field, with what was typed kept."""
    kind = kind_of(slug)
    if not IDENTIFIER.fullmatch(ident):
        raise HTTPException(404)
    current = await ctx.backends.call("directory", "GET", f"/{kind.path}/{ident}", person.token)
    body, errors = read_body(kind, form, current)
    if not errors:
        try:
            await ctx.backends.call("directory", "PUT", f"/{kind.path}/{ident}", person.token, body=body)
        except BackendError as refused:
            if refused.status not in (409, 422):
                raise
            errors = refusal(kind, refused)
            return await entry_page(request, person, ctx, kind, ident, status_code=refused.status, values=typed_values(form), errors=errors)
        return RedirectResponse(f"/annuaire/{kind.slug}/{ident}?enregistre=1", status_code=303)
    return await entry_page(request, person, ctx, kind, ident, status_code=422, values=typed_values(form), errors=errors)
