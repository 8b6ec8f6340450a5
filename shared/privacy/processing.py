"""The platform's processing of personal data, declared once: what the information notice and the register say.

Each `Processing` is one activity of the register (RGPD art. 30): its purpose, its legal basis, the people
and data it concerns, who receives them, which services hold them and which retention rules of
`deploy/privacy/retention.toml` apply. The notice a counsellor hands the applicant (`shared/privacy/notice.py`)
and `docs/registre-des-traitements.md` (`python -m deploy.privacy.register`) are both written from here; the
durations come from the retention file itself, so that changing a rule there changes both documents.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

RETENTION_FILE = Path(__file__).resolve().parents[2] / "deploy" / "privacy" / "retention.toml"

CONTROLLER = (
    "L'association qui accompagne la personne (Secours Catholique, Restos du Cœur…), membre du réseau du microcrédit "
    "accompagné, pour la plateforme qu'elle partage avec les banques partenaires ; chaque banque partenaire est "
    "responsable de ses propres traitements une fois le dossier transmis."
)
DPO_CONTACT = "dpo@microcredit.example, ou par courrier adressé à l'association à l'attention du délégué à la protection des données."
CNIL = "Commission nationale de l'informatique et des libertés (CNIL), 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07 — www.cnil.fr/plaintes"
SECURITY = (
    "Accès par rôle (chaque association ne voit que ses dossiers, chaque banque que les dossiers qui lui sont transmis), "
    "authentification par un fournisseur d'identité, chiffrement des données personnelles dans les messages échangés entre "
    "services (une clé par personne, détruite à l'effacement), journal de qui a fait quoi, effacement et anonymisation "
    "automatiques aux durées ci-dessous."
)
TRANSFERS = "Aucun transfert hors de l'Union européenne."


@dataclass(frozen=True)
class Recipient:
    """Who receives data of the processing, and what of it."""

    name: str
    receives: str


@dataclass(frozen=True)
class Processing:
    """One processing activity of the register."""

    id: str
    name: str
    purpose: str
    legal_basis: str
    subjects: str
    data: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    retention: tuple[str, ...]  # ids of rules of the retention file
    services: tuple[str, ...]


ASSOCIATION = Recipient("L'association (conseillers et responsables)", "tout le dossier, pour accompagner la personne")
BANK = Recipient(
    "La banque partenaire choisie avec la personne",
    "le dossier transmis pour décider du prêt, sans le diagnostic social ; puis le suivi du prêt",
)
FCS = Recipient(
    "Le Fonds de cohésion sociale (géré par la Caisse des dépôts), garant de la moitié du prêt",
    "les montants, la durée, le taux et les incidents du prêt garanti ; des statistiques sans nom",
)
BANQUE_DE_FRANCE = Recipient(
    "La Banque de France (fichier FICP)",
    "le nom, le prénom et la date de naissance, pour consulter le fichier des incidents de remboursement",
)

PROCESSING: tuple[Processing, ...] = (
    Processing(
        id="instruction",
        name="Accueil et instruction des demandes de microcrédit",
        purpose=(
            "Accueillir la personne, constituer son dossier, établir le diagnostic de son budget, vérifier que le prêt "
            "est supportable et rendre l'avis de l'association."
        ),
        legal_basis="Mesures précontractuelles prises à la demande de la personne (RGPD, art. 6.1.b).",
        subjects="Les personnes qui demandent un microcrédit accompagné.",
        data=(
            "identité : nom, prénom, date de naissance",
            "coordonnées : adresse, téléphone, courriel",
            "situation familiale : adultes et enfants du foyer",
            "ressources et charges mensuelles, situation de surendettement",
            "projet financé, devis et fournisseur, pièces justificatives reçues",
            "diagnostic budgétaire, avis et orientation écrits par le conseiller",
        ),
        recipients=(ASSOCIATION, BANK),
        retention=("file-not-a-loan", "loan-after-closure", "audit-trail"),
        services=("intake", "assessment"),
    ),
    Processing(
        id="ficp",
        name="Consultation du fichier des incidents de remboursement (FICP)",
        purpose="Vérifier, avant tout prêt, que la personne n'est pas inscrite au FICP.",
        legal_basis="Obligation légale (RGPD, art. 6.1.c ; Code de la consommation, art. L312-16).",
        subjects="Les personnes dont le dossier est instruit.",
        data=("identité : nom, prénom, date de naissance", "résultat et référence de la consultation"),
        recipients=(BANQUE_DE_FRANCE, ASSOCIATION, BANK),
        retention=("file-not-a-loan", "loan-after-closure"),
        services=("assessment",),
    ),
    Processing(
        id="pret",
        name="Octroi et gestion du prêt",
        purpose=(
            "Décider du prêt, le verser, tenir son échéancier, enregistrer les remboursements, constater les impayés et "
            "aménager les échéances."
        ),
        legal_basis="Exécution du contrat de prêt (RGPD, art. 6.1.b) ; obligations légales de la banque (art. 6.1.c).",
        subjects="Les emprunteurs.",
        data=(
            "montant, taux, durée et échéancier du prêt",
            "versements, remboursements, impayés, aménagements demandés et leur motif",
        ),
        recipients=(BANK, FCS, ASSOCIATION),
        retention=("active-loan", "loan-after-closure", "audit-trail"),
        services=("assessment", "servicing"),
    ),
    Processing(
        id="suivi",
        name="Suivi de l'emprunteur et alertes",
        purpose=(
            "Prévenir le conseiller d'un événement du dossier ou du prêt (décision, versement, impayé) pour qu'il "
            "accompagne la personne ; informer la banque partenaire de ce qui concerne ses prêts."
        ),
        legal_basis="Intérêt légitime de l'association à accompagner l'emprunteur jusqu'au bout du prêt (RGPD, art. 6.1.f).",
        subjects="Les personnes accompagnées et les emprunteurs.",
        data=("nom de la personne dans les alertes et les courriels au conseiller", "événements du prêt envoyés à la banque"),
        recipients=(ASSOCIATION, BANK),
        retention=("notification-log",),
        services=("notifications",),
    ),
    Processing(
        id="statistiques",
        name="Pilotage et statistiques",
        purpose="Suivre l'activité (de l'accueil au prêt) et la qualité du portefeuille, rendre compte au Fonds de cohésion sociale.",
        legal_basis="Intérêt légitime du réseau et obligation de compte rendu au garant (RGPD, art. 6.1.f).",
        subjects="Les personnes accompagnées, de façon agrégée.",
        data=("comptes et montants agrégés par association et région, sans nom ni situation personnelle",),
        recipients=(ASSOCIATION, FCS),
        retention=("loan-after-closure",),
        services=("intake", "servicing"),
    ),
    Processing(
        id="droits",
        name="Exercice des droits des personnes",
        purpose="Répondre aux demandes d'accès, d'effacement et de limitation, et appliquer les durées de conservation.",
        legal_basis="Obligation légale (RGPD, art. 6.1.c ; art. 12 à 22).",
        subjects="Les personnes qui exercent leurs droits.",
        data=("la demande, sa date, la réponse donnée et sa raison",),
        recipients=(Recipient("Le ou la délégué·e à la protection des données", "la demande et tout le dossier concerné"),),
        retention=("audit-trail",),
        services=("privacy", "web"),
    ),
)

RIGHTS = (
    ("Droit d'accès", "obtenir une copie de tout ce que la plateforme garde sur vous (RGPD, art. 15)."),
    ("Droit de rectification", "faire corriger une donnée inexacte, auprès de votre conseiller (art. 16)."),
    ("Droit à l'effacement", "faire effacer vos données quand rien n'oblige à les garder ; pendant un prêt en cours, "
     "l'effacement est refusé et la raison vous est donnée (art. 17)."),
    ("Droit à la limitation", "faire geler l'usage de vos données le temps d'une contestation (art. 18)."),
    ("Droit d'opposition", "vous opposer au suivi fondé sur l'intérêt légitime, pour une raison tenant à votre situation (art. 21)."),
    ("Droit à la portabilité", "recevoir les données que vous avez fournies dans un format lisible par une machine (art. 20)."),
)

# What the retention file writes in English for the people who keep it, said in French for the applicant.
_THEN = {"erase": "effacées", "anonymise": "anonymisées", "pseudonymise": "pseudonymisées", "keep": "conservées"}
_START = {
    "file-not-a-loan": "la dernière étape du dossier (abandon, retrait, avis défavorable ou refus de la banque)",
    "loan-after-closure": "la fin du prêt (remboursé ou passé en perte)",
    "active-loan": "l'accord de la banque",
    "audit-trail": "l'effacement ou l'anonymisation du dossier",
    "notification-log": "l'envoi du message ou la clôture de l'alerte",
}
_COVERS = {
    "file-not-a-loan": "Dossier qui n'a pas abouti à un prêt",
    "loan-after-closure": "Prêt terminé et dossier qui l'a précédé",
    "active-loan": "Prêt en cours",
    "audit-trail": "Journal de qui a fait quoi sur le dossier",
    "notification-log": "Alertes, courriels et messages envoyés à propos du dossier",
}
_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


def rule_title(rule_id: str) -> str:
    """What a retention rule is about, in French (its id when the declaration has no title for it)."""
    return _COVERS.get(rule_id, rule_id)


@dataclass(frozen=True)
class RetentionRule:
    """A rule of the retention file in force on a day, with what a person reads of it."""

    id: str
    since: date
    keep: str
    then: str
    legal_reason: str

    @property
    def covers(self) -> str:
        """What the rule is about, in French."""
        return _COVERS.get(self.id, self.id)

    @property
    def period(self) -> str:
        """How long, in French: `6 mois`, `5 ans`; `tant que le prêt court` for a rule without a fixed duration."""
        return french_period(self.keep)

    @property
    def summary(self) -> str:
        """One sentence: how long from when, then what."""
        start = _START.get(self.id, "l'événement qui la déclenche")
        if self.then == "keep":
            return f"Conservées jusqu'à la fin du prêt, à compter de {start} ; l'effacement est refusé pendant ce temps."
        if self.keep == "P0D":
            return f"{_THEN[self.then].capitalize()} dès {start}."
        return f"Conservées {self.period} à compter de {start}, puis {_THEN[self.then]}."


def french_period(keep: str) -> str:
    """An ISO 8601 period (`P6M`, `P5Y`, `P1Y`) in French words; a text that is not one, `tant que le prêt court`."""
    match = _PERIOD.match(keep)
    if not match or not any(match.groups()):
        return "tant que le prêt court"
    years, months, days = (int(g) if g else 0 for g in match.groups())
    parts = []
    if years:
        parts.append(f"{years} an{'s' if years > 1 else ''}")
    if months:
        parts.append(f"{months} mois")
    if days or not parts:
        parts.append(f"{days} jour{'s' if days > 1 else ''}")
    return " et ".join(parts)


def retention_rules(on: date | None = None, path: Path = RETENTION_FILE) -> dict[str, RetentionRule]:
    """The rules in force on `on`: for each id, its entry with the latest `since` not after `on` (None: the latest entry)."""
    entries: list[dict[str, Any]] = tomllib.loads(path.read_text(encoding="utf-8"))["rule"]
    rules: dict[str, RetentionRule] = {}
    for entry in sorted(entries, key=lambda e: e["since"]):
        if on is None or entry["since"] <= on:
            rules[entry["id"]] = RetentionRule(
                id=entry["id"], since=entry["since"], keep=entry["keep"], then=entry["then"],
                legal_reason=" ".join(entry["legal_reason"].split()),
            )
    return rules
