"""The SMTP adapter: hands messages to the relay over one connection per run, and tells a permanent refusal (5xx)
from a temporary one."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from services.notifications.settings import NotificationsSettings

# What a temporary failure raises: the delivery is tried again later.
TEMPORARY = (aiosmtplib.SMTPException, OSError, TimeoutError)


class PermanentFailure(Exception):
    """The SMTP server refused for good (5xx): retrying would not help."""


class Relay:
    """One connection to the SMTP relay for a run of the mailer: opened at the first message, kept for the next ones,
    closed at the end (a connection per message cost a handshake each). A connection that failed is not reused."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None

    async def send(self, message: EmailMessage) -> None:
        """Send `message`; PermanentFailure for a 5xx, one of TEMPORARY otherwise."""
        try:
            if self._client is None:
                self._client = await self._connect()
            await self._client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self.close()
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(text) from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            await self.close()
            if exc.code >= 500:
                raise PermanentFailure(f"{exc.code} {exc.message}") from exc
            raise
        except TEMPORARY:
            await self.close()
            raise

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        await client.connect()
        return client

    async def close(self) -> None:
        """Say goodbye to the relay (or drop the connection if it no longer answers)."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.quit()
        except TEMPORARY:
            client.close()

    async def __aenter__(self) -> Relay:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


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
