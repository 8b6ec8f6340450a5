"""A service's problem document, turned into French sentences next to the fields of a form."""

from __future__ import annotations

from services.web.backends import BackendError

# The services' rule codes (pydantic's and the domain's) as a person reads them.
SENTENCES = {
    "missing": "Ce champ est à remplir.",
    "string_too_short": "Écrivez au moins quelques mots.",
    "string_too_long": "Ce texte est trop long.",
    "date_from_datetime_parsing": "Indiquez une date, par exemple 30/11/2026.",
    "date_parsing": "Indiquez une date, par exemple 30/11/2026.",
    "date_type": "Indiquez une date, par exemple 30/11/2026.",
    "future_date": "Choisissez un jour après aujourd'hui.",
    "too_far": "Ce report est trop long : choisissez une date plus proche.",
    "control_characters": "Ce texte contient des caractères invisibles : retapez-le.",
}


def field_errors(refused: BackendError) -> dict[str, str]:
    """The problem's errors by field (the last part of its path), each as a French sentence."""
    errors: dict[str, str] = {}
    for error in refused.problem.get("errors", []):
        field = str(error.get("field", "")).split(".")[-1]
        errors.setdefault(field, SENTENCES.get(str(error.get("rule", "")), "Cette valeur n'est pas acceptée."))
    return errors
