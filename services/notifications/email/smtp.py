"""The SMTP adapter: hands one message to the relay, and tells a permanent refusal (5xx) from a temporary one."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from services.notifications.settings import NotificationsSettings

# What a temporary failure raises: the delivery is tried again later.
TEMPORARY = (aiosmtplib.SMTPException, OSError, TimeoutError)


class PermanentFailure(Exception):
    """The SMTP server refused for good (5xx): retrying would not help."""


async def send(message: EmailMessage, settings: NotificationsSettings) -> None:
    """Send `message` through the configured relay; PermanentFailure for a 5xx, one of TEMPORARY otherwise."""
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(text) from exc
        raise
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentFailure(f"{exc.code} {exc.message}") from exc
        raise


def failure_class(exc: BaseException) -> str:
    """A short class of a failed send, for the metrics: `smtp_5xx` (refused for good), `smtp_4xx`, `timeout`,
    `unreachable` (no connection to the relay) or `error`."""
    if isinstance(exc, PermanentFailure):
        return "smtp_5xx"
    if isinstance(exc, (aiosmtplib.SMTPTimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError)):
        return "unreachable"
    if isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code < 500:
        return "smtp_4xx"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "smtp_4xx"  # some recipients refused for now
    return "error"
