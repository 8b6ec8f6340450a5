"""A service's problem document, turned into French sentences next to the fields of a form."""

from __future__ import annotations

from services.web.backends import BackendError

# The services' rule codes (pydantic's and the domain's) as a person reads them.
SENTENCES = {
    "missing": "Ce champ est à remplir.",
    "string_too_short": "Écrivez au moins quelques mots.",
    "string_too_long": "Ce texte est trop long.",
    "string_pattern_mismatch": "Cette valeur n'a pas la bonne forme.",
    "date_from_datetime_parsing": "Indiquez une date, par exemple 30/11/2026.",
    "date_parsing": "Indiquez une date, par exemple 30/11/2026.",
    "date_type": "Indiquez une date, par exemple 30/11/2026.",
    "future_date": "Choisissez un jour après aujourd'hui.",
    "too_far": "Ce report est trop long : choisissez une date plus proche.",
    "control_characters": "Ce texte contient des caractères invisibles : retapez-le.",
    "greater_than_equal": "Cette valeur est trop petite.",
    "less_than_equal": "Cette valeur est trop grande.",
    "greater_than": "Cette valeur est trop petite.",
    "less_than": "Cette valeur est trop grande.",
    "enum": "Choisissez une des valeurs proposées.",
    "literal_error": "Choisissez une des valeurs proposées.",
    "int_type": "Indiquez un nombre entier.",
    "everyday_consumption_excluded": "Un microcrédit personnel ne finance pas la consommation courante : le projet doit servir l'insertion.",
    "debt_repayment_excluded": "Un microcrédit personnel ne rembourse pas d'autres dettes : orientez vers la procédure de surendettement.",
    "required_for_kind": "Ce champ est à remplir pour ce type d'aménagement.",
    "not_for_kind": "Ce champ ne s'applique pas à ce type d'aménagement : laissez-le vide.",
    "checklist_incomplete": "Des pièces demandées manquent : enregistrez-les, ou expliquez ici pourquoi le dossier part sans elles.",
    "value_error": "Cette valeur n'est pas acceptée.",
    "not_future": "Cette date ne peut pas être dans le futur.",
    "partner_bank": "Choisissez une banque partenaire de votre association.",
    "ficp_required": "Enregistrez d'abord la consultation du FICP, ci-dessus.",
    "check_failed": "Ce contrôle n'est pas satisfait : justifiez la dérogation ici, ou changez les conditions du prêt.",
    "blank": "Ce champ est à remplir.",
    "not_past": "Choisissez aujourd'hui ou un jour à venir.",
    "required_for_outcome": "Ce champ est à remplir pour ce choix.",
    "not_for_outcome": "Ce champ ne s'applique pas à ce choix : laissez-le vide.",
    # The directory's rules.
    "unknown_network": "Ce réseau n'existe pas dans l'annuaire.",
    "unknown_bank": "Cette banque n'existe pas dans l'annuaire.",
    "unknown_association": "Cette association n'existe pas dans l'annuaire.",
    "inactive_network": "Ce réseau est hors service : une association en service ne peut pas en faire partie.",
    "region_not_listed": "Une antenne est dans une région que l'association ne liste plus : gardez cette région.",
    "duplicate_branch": "Une antenne figure deux fois.",
    "not_for_role": "Ce champ ne s'applique pas à ce rôle : laissez-le vide.",
    "required_for_role": "Ce champ est à remplir pour ce rôle.",
    "files_awaiting_decision": "Des dossiers attendent encore la décision de cette banque : elle reste en service tant qu'ils ne sont pas décidés ou retirés.",
    "network_in_use": "Des associations en service font partie de ce réseau : mettez-les hors service ou changez-les de réseau d'abord.",
    "too_short": "Choisissez-en au moins un.",
    "too_long": "Vous en avez choisi trop.",
    "https_required": "L'adresse doit commencer par https://.",
}
# Sizes a service states in its own words (amounts, durations): said plainly.
FIELD_SENTENCES = {
    ("amount_cents", "greater_than_equal"): "Le montant va de 300 € à 8 000 €.",
    ("amount_cents", "less_than_equal"): "Le montant va de 300 € à 8 000 €.",
    ("duration_months", "greater_than_equal"): "La durée va de 6 à 84 mois.",
    ("duration_months", "less_than_equal"): "La durée va de 6 à 84 mois.",
    ("max_instalment_share", "greater_than_equal"): "La part des ressources va de 5 % à 50 %.",
    ("max_instalment_share", "less_than_equal"): "La part des ressources va de 5 % à 50 %.",
    ("max_instalment_share", "string_pattern_mismatch"): "La part des ressources va de 5 % à 50 %, avec deux décimales au plus (33,5).",
    ("max_instalment_share", "decimal_max_places"): "La part des ressources s'écrit avec deux décimales au plus (33,5).",
    ("min_remaining_per_unit_cents", "less_than_equal"): "Le reste à vivre minimal va de 0 € à 2 000 € par unité de consommation.",
    ("email", "value_error"): "Indiquez une adresse e-mail, par exemple prenom.nom@exemple.fr.",
    ("bank_contact", "value_error"): "Indiquez une adresse e-mail, par exemple microcredit@exemple.fr.",
    ("shared_mailbox", "value_error"): "Indiquez une adresse e-mail, par exemple microcredit@exemple.fr.",
    ("url", "string_pattern_mismatch"): "Indiquez une adresse web complète, par exemple https://banque.exemple/webhooks.",
    ("url", "string_too_short"): "Indiquez une adresse web complète, par exemple https://banque.exemple/webhooks.",
    ("url", "value_error"): "Indiquez une adresse web complète, par exemple https://banque.exemple/webhooks.",
    ("event_types", "too_short"): "Choisissez au moins un événement.",
}


# What a file still lacks before it can be submitted, named as the counsellor knows it.
MISSING_PART = {
    "applicant.birth_date": "la date de naissance", "applicant.contact": "un téléphone ou un courriel", "applicant.address": "l'adresse",
    "household": "la composition du foyer", "resources": "les ressources", "charges": "les charges", "project": "le projet",
    "amount_cents": "le montant demandé", "duration_months": "la durée", "referral_source": "qui a orienté la personne",
}


def sentence(field: str, rule: str) -> str:
    """A rule broken on a field, as a person reads it."""
    last = field.split(".")[-1]
    return FIELD_SENTENCES.get((last, rule)) or SENTENCES.get(rule, "Cette valeur n'est pas acceptée.")


def field_errors(refused: BackendError) -> dict[str, str]:
    """The problem's errors by field (the last part of its path), each as a French sentence."""
    errors: dict[str, str] = {}
    for error in refused.problem.get("errors", []):
        field = str(error.get("field", ""))
        errors.setdefault(field.split(".")[-1], sentence(field, str(error.get("rule", ""))))
    return errors


def path_errors(refused: BackendError, renames: dict[str, str] | None = None) -> dict[str, str]:
    """The problem's errors by the field's whole path without `body.` (`applicant.first_name`), or as `renames` names it.

    An error no field of the form shows is kept under `""`, so the page says it above the form."""
    errors: dict[str, str] = {}
    for error in refused.problem.get("errors", []):
        field = str(error.get("field", "")).removeprefix("body.")
        shown = (renames or {}).get(field, field)
        errors.setdefault(shown, sentence(field, str(error.get("rule", ""))))
    if not errors and refused.status == 409:
        errors[""] = "L'état du dossier ne permet plus cette action : rechargez la page pour voir où il en est."
    elif not errors:
        errors[""] = "Cette demande n'a pas pu être enregistrée : vérifiez les valeurs saisies."
    return errors
