"""The local platform's SMTP server: what notifications sends lands in a Maildir that `make mail` lists."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from deploy.local.mail import LocalMail, main
from services.notifications.email import smtp
from services.notifications.email.letters import Letter, mime
from services.notifications.settings import NotificationsSettings

pytestmark = pytest.mark.integration


async def test_an_e_mail_sent_as_notifications_sends_it_is_kept_listed_and_the_server_stops_for_good(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mail = LocalMail(tmp_path)
    port = mail.start()
    try:
        assert mail.start() == port  # a second start keeps the running server
        settings = NotificationsSettings.model_construct(smtp_host="127.0.0.1", smtp_port=port)  # the SMTP part only
        letter = Letter("Échéance impayée : dossier de Mme Lefèvre", "Bonjour,\n\nL'échéance du 30/11/2026 n'a pas été payée.")
        async with smtp.Relay(settings) as relay:
            await relay.send(mime(letter, sender=settings.email_sender, recipients=["c.lefebvre@secours-catholique.example"],
                                  delivery_id=uuid4(), created_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))

        [(_, to, subject)] = mail.received()
        assert (to, subject) == ("c.lefebvre@secours-catholique.example", "Échéance impayée : dossier de Mme Lefèvre")
        assert main(["--state-dir", str(tmp_path)]) == 0
        listed = capsys.readouterr().out
        assert "1 e-mail(s) in" in listed and "Échéance impayée : dossier de Mme Lefèvre" in listed
    finally:
        mail.stop()
    assert not mail.running()
    assert len(mail.received()) == 1  # the Maildir outlives the server
