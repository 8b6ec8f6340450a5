"""The local platform's SMTP server: notifications' e-mails land in a Maildir, `make mail` lists them.

aiosmtpd (the SMTP server of Python's ecosystem, in the project's environment) runs detached on the loopback
interface and keeps every message it receives in `state_dir/mail/maildir`, which any mail reader opens
(`mutt -f .local/mail/maildir`). Without it, the e-mails of the local platform had nowhere to go: each was tried
again and again, then given up with a `delivery failed` alert.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import smtplib
import sys
import time
from email.header import decode_header, make_header
from pathlib import Path

from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.ports import LOOPBACK, find_free_ports
from deploy.local.process import Detached

DEFAULT_START_TIMEOUT = 30.0


class MailError(RuntimeError):
    """The SMTP server did not start."""


class LocalMail:
    """One SMTP server whose pid, port, log and Maildir live under `state_dir/mail`."""

    def __init__(self, state_dir: Path, *, start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.base = Path(state_dir).resolve() / "mail"
        self.maildir = self.base / "maildir"
        self.port_file = self.base / "port"
        self.server = Detached("the SMTP server", self.base / "smtp.pid", self.base / "smtp.log", marker="aiosmtpd")
        self.start_timeout = start_timeout

    @property
    def port(self) -> int | None:
        """The port it listens on, once it was started."""
        try:
            return int(self.port_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def start(self) -> int:
        """Start the server (or keep the running one) and wait until it greets in SMTP; its port."""
        if self.server.live_pid() is None:
            [port] = find_free_ports(1)
            self.maildir.parent.mkdir(parents=True, exist_ok=True)
            self.port_file.write_text(str(port))
            self.server.launch(
                [sys.executable, "-m", "aiosmtpd", "--nosetuid", "--smtputf8", "--listen", f"{LOOPBACK}:{port}",
                 "--class", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            self.server.wait_until(self._greets, time.monotonic() + self.start_timeout, "an SMTP greeting", MailError)
        except MailError:
            self.stop()
            raise
        return int(self.port or 0)

    def _greets(self) -> bool:
        try:
            with smtplib.SMTP(LOOPBACK, self.port or 0, timeout=2.0) as smtp:
                return smtp.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server; no-op when it is down. The Maildir stays."""
        self.server.stop(timeout)

    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.server.live_pid() is not None

    def received(self) -> list[tuple[float, str, str]]:
        """Every message kept, oldest first: (time received, To, Subject)."""
        if not self.maildir.is_dir():
            return []
        box = mailbox.Maildir(self.maildir, create=False)
        kept = []
        for key in box.keys():
            message = box.get_message(key)
            kept.append((message.get_date(), _header(message["To"]), _header(message["Subject"])))
        return sorted(kept)


def _header(value: str | None) -> str:
    return str(make_header(decode_header(value))) if value else ""


def main(argv: list[str] | None = None) -> int:
    """`python -m deploy.local.mail [--last N]`: the e-mails the local platform sent, newest last."""
    parser = argparse.ArgumentParser(prog="python -m deploy.local.mail", description=main.__doc__)
    parser.add_argument("--last", type=int, default=20, help="how many of the newest e-mails to list (default 20)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    args = parser.parse_args(argv)
    mail = LocalMail(args.state_dir)
    kept = mail.received()
    print(f"{len(kept)} e-mail(s) in {mail.maildir}" + ("" if mail.running() else " (the SMTP server is not running: make run)"))
    for received, to, subject in kept[-args.last:]:
        print(f"  {time.strftime('%d/%m/%Y %H:%M:%S', time.localtime(received))}  {to}  {subject}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
