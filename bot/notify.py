"""Telling managers: the weekly digest and completion notices, by e-mail or Slack.

A manager is whatever identifies them in a learner's `profile.manager`: an e-mail address
goes through SMTP (`SMTP_URL`), a Slack user id through the Slack app. Each notifier says
whether it handled the address, so several can be tried in turn.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)


class ManagerNotifier(Protocol):
    """Sends a manager a message; `nudges` are (learner name, learner key) pairs a channel
    with buttons shows as "Nudge" actions. Returns False when `manager` is not an address
    this notifier handles."""

    def notify(
        self, manager: str, subject: str, text: str, nudges: Sequence[tuple[str, str]] = ()
    ) -> bool: ...


class EmailNotifier:
    """Plain-text e-mail through `SMTP_URL`: `smtp://user:pass@host:587?from=bot@x.com`
    (STARTTLS when the server offers it unless `starttls=off`), or `smtps://` for TLS."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:587?from=bot@x.com")
        query = parse_qs(parts.query)
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.sender = query.get("from", [f"trainbot@{self.host}"])[0]
        self.starttls = query.get("starttls", ["auto"])[0] != "off"
        self.timeout = timeout

    def notify(
        self, manager: str, subject: str, text: str, nudges: Sequence[tuple[str, str]] = ()
    ) -> bool:
        if "@" not in manager:
            return False
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = manager
        message["Subject"] = subject
        message.set_content(text.replace("**", ""))
        smtp_class = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
            if not self.tls and self.starttls:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)
        log.info("notify: e-mailed %s…", manager.split("@")[0][:2])
        return True
