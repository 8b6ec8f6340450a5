"""The e-mails a counsellor, a supervisor or a bank's contact reads, in French (pure: text in, text out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from uuid import UUID
from zoneinfo import ZoneInfo

from services.notifications.alerts.domain import Alert
from shared import french

PREFIX = "[Microcrédit]"
SEVERITIES = {"info": "pour information", "warning": "à traiter", "critical": "urgent"}

TITLES = {
    "fr.microcredit.payment.missed.v1": "Échéance impayée",
    "fr.microcredit.loan.delinquency.changed.v1": "Prêt à plus de 30 jours de retard",
    "fr.microcredit.loan.approved.v1": "Prêt accordé par la banque",
    "fr.microcredit.loan.declined.v1": "Prêt refusé par la banque",
    "fr.microcredit.loan.disbursed.v1": "Prêt décaissé",
    "fr.microcredit.loan.rescheduled.v1": "Aménagement accepté par la banque",
    "fr.microcredit.loan.adjustment.refused.v1": "Aménagement refusé par la banque",
    "fr.microcredit.bank.decision.overdue.v1": "Décision de la banque en attente",
    "fr.microcredit.application.assessed.v1": "Dossier incomplet",
}
ACTIONS = {
    "fr.microcredit.payment.missed.v1": (
        "Appeler l'emprunteur pour comprendre ce qui se passe ; si la difficulté dure, demander à la banque "
        "un aménagement du calendrier (pause, allongement ou échéance réduite)."
    ),
    "fr.microcredit.loan.delinquency.changed.v1": (
        "Faire le point avec le conseiller : l'emprunteur est-il joignable, un aménagement a-t-il été demandé ?"
    ),
    "fr.microcredit.loan.approved.v1": "Prévenir le demandeur, relire l'offre de prêt avec lui et préparer le décaissement.",
    "fr.microcredit.loan.declined.v1": (
        "Informer le demandeur et étudier une autre solution : autre banque partenaire, aide sociale, accompagnement budgétaire."
    ),
    "fr.microcredit.loan.disbursed.v1": "Rappeler à l'emprunteur la date et le montant de sa première échéance.",
    "fr.microcredit.loan.rescheduled.v1": "Expliquer le nouveau calendrier à l'emprunteur.",
    "fr.microcredit.loan.adjustment.refused.v1": "Reprendre contact avec l'emprunteur et chercher une autre solution avec lui.",
    "fr.microcredit.bank.decision.overdue.v1": "Relancer la banque ; sans réponse, envisager une autre banque partenaire.",
    "fr.microcredit.application.assessed.v1": "Relancer le demandeur pour les pièces manquantes, ou clore le dossier s'il ne donne plus suite.",
}
SUPERVISOR_ACTION = "Voir avec le conseiller ce qui bloque et convenir ensemble de la suite."
SIGNATURE = (
    "-- \nPlateforme du microcrédit personnel accompagné. Message automatique : merci de ne pas y répondre,\n"
    "les réponses ne sont pas lues. Pour changer la fréquence de ces e-mails : Préférences > Alertes."
)


@dataclass(frozen=True)
class Letter:
    """An e-mail's subject and plain-text body."""

    subject: str
    body: str


def title(alert: Alert) -> str:
    """A few words saying what happened."""
    base = TITLES.get(alert.cause_type, "Alerte")
    return f"Escalade : {base.lower()}" if alert.audience == "supervisor" else base


def case_link(alert: Alert, base_url: str) -> str:
    """Where the counsellor opens the case: the loan if there is one, else the file."""
    base = base_url.rstrip("/")
    if alert.loan_id:
        return f"{base}/loans/{alert.loan_id}"
    if alert.application_id:
        return f"{base}/applications/{alert.application_id}"
    return f"{base}/alerts/{alert.id}"


def _about(alert: Alert, borrower: str | None) -> str:
    who = borrower or "demandeur non nommé ici (voir le dossier)"
    lines = [f"Emprunteur : {who}"]
    if alert.loan_id:
        lines.append(f"Prêt : {alert.loan_id}")
    if alert.application_id:
        lines.append(f"Dossier : {alert.application_id}")
    follower = alert.counsellor_id or "file partagée de l'association"
    lines.append(f"Suivi par : {follower} ({alert.association_id}, {alert.region})")
    return "\n".join(lines)


def alert_letter(alert: Alert, *, borrower: str | None, base_url: str, zone: ZoneInfo, reminder: bool = False) -> Letter:
    """One alert, for the counsellor (or the shared mailbox, or the supervisors)."""
    severity = SEVERITIES[alert.severity]
    who = f" — {borrower}" if borrower else ""
    again = "Rappel : " if reminder else ""
    subject = f"{PREFIX} {again}{title(alert)}{who} ({severity})"
    action = SUPERVISOR_ACTION if alert.audience == "supervisor" else ACTIONS.get(alert.cause_type, "Ouvrir le dossier.")
    opening = (
        "Vous aviez mis cette alerte de côté ; elle revient aujourd'hui." if reminder else "Une alerte vous concerne."
    )
    body = "\n".join([
        "Bonjour,",
        "",
        f"{opening} Priorité : {severity}.",
        "",
        _about(alert, borrower),
        f"Alerte levée le {french.moment(alert.raised_at, zone)}",
        "",
        "Ce qui s'est passé :",
        f"  {alert.message}",
        "",
        "Que faire :",
        f"  {action}",
        "",
        f"Ouvrir le dossier : {case_link(alert, base_url)}",
        f"Prendre en compte l'alerte : {base_url.rstrip('/')}/alerts/{alert.id}",
        "",
        SIGNATURE,
    ])
    return Letter(subject, body)


def digest_letter(alerts: list[tuple[Alert, str | None]], *, day: date, base_url: str, zone: ZoneInfo) -> Letter:
    """The day's alerts of one counsellor, in one e-mail (oldest first)."""
    subject = f"{PREFIX} Vos alertes du {french.day(day)} ({len(alerts)})"
    lines = ["Bonjour,", "", f"Voici les {len(alerts)} alerte(s) levée(s) depuis votre dernier récapitulatif.", ""]
    for number, (alert, borrower) in enumerate(alerts, start=1):
        who = borrower or "demandeur"
        lines += [
            f"{number}. {title(alert)} — {who} — {SEVERITIES[alert.severity]} — {french.moment(alert.raised_at, zone)}",
            f"   {alert.message}",
            f"   Que faire : {ACTIONS.get(alert.cause_type, 'Ouvrir le dossier.')}",
            f"   Dossier : {case_link(alert, base_url)}",
            "",
        ]
    lines += ["Les alertes urgentes vous sont toujours envoyées sans attendre le récapitulatif.", "", SIGNATURE]
    return Letter(subject, "\n".join(lines))


def paused_subscription_letter(
    *, bank_id: str, subscription_id: UUID, url: str, failures: int, last_error: str, paused_at: datetime, zone: ZoneInfo
) -> Letter:
    """Tell a bank's technical contact that its webhook subscription stopped, and how to restart it."""
    subject = f"{PREFIX} Abonnement webhook suspendu après {failures} échecs ({bank_id})"
    body = "\n".join([
        "Bonjour,",
        "",
        f"Les notifications envoyées à votre adresse {url} échouent depuis {failures} tentatives consécutives",
        f"(dernière erreur : {last_error}). L'abonnement {subscription_id} est suspendu depuis le {french.moment(paused_at, zone)}.",
        "",
        "Aucune notification n'est perdue : elles attendent la reprise de l'abonnement.",
        f"Une fois votre point de réception rétabli : POST /webhooks/subscriptions/{subscription_id}/resumption",
        f"Le journal des livraisons : GET /webhooks/subscriptions/{subscription_id}/deliveries",
        "",
        "-- \nPlateforme du microcrédit personnel accompagné. Message automatique.",
    ])
    return Letter(subject, body)


def message_id(delivery_id: UUID, sender: str) -> str:
    """A Message-ID derived from the delivery id: a resent e-mail is recognisably the same message."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "microcredit.invalid"
    return f"<{delivery_id}@{domain}>"


def mime(letter: Letter, *, sender: str, recipients: list[str], delivery_id: UUID, created_at: datetime) -> EmailMessage:
    """The MIME message of a delivery: the same bytes on every attempt (Date is the delivery's creation)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(created_at)
    message["Message-ID"] = message_id(delivery_id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.body, charset="utf-8")
    return message
