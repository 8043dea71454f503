"""U5: tell a person when a run failed or held something new: a JSON POST and/or an email.

Configured from the environment, not rules.yaml: a chat webhook URL is itself a credential (Slack's
carries its token in the path), and so is an SMTP password; rules.yaml lives in git. Both are
optional; with neither set, nothing is sent.

    QBSYNC_NOTIFY_URL        POST {"text": ..., "qbsync": <run summary>} here (Slack-compatible `text`)
    QBSYNC_SMTP_HOST         send an email through this server ...
    QBSYNC_SMTP_PORT         ... on this port (default 587)
    QBSYNC_SMTP_STARTTLS     "false" for a server without STARTTLS (default: true)
    QBSYNC_SMTP_USER, QBSYNC_SMTP_PASSWORD   login, when the server wants one
    QBSYNC_NOTIFY_EMAIL_TO   comma-separated recipients; QBSYNC_NOTIFY_EMAIL_FROM the sender

A run that holds only what was already held says nothing again: runs every 30 minutes would
otherwise repeat the same news all day. So does a run failing as the one before did, on the day
that was told (it is told again the next day), and a run that works again after failures says so. Nothing secret is ever in a notification: summaries carry
no credentials by construction, and any secret value of the environment is blanked out anyway.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Mapping

import httpx

log = logging.getLogger(__name__)

# Environment variables whose values must never leave in a notification.
SECRET_VARIABLES = ("QUICKBOOKS_CLIENT_SECRET", "QUICKBOOKS_REFRESH_TOKEN", "QUICKBOOKS_ACCESS_TOKEN", "PRECORO_TOKEN",
                    "QUICKBOOKS_WEBHOOK_VERIFIER", "QBSYNC_PRECORO_WEBHOOK_SECRET", "QBSYNC_NOTIFY_URL",
                    "QBSYNC_SMTP_PASSWORD")
SHOWN_HELD = 10


@dataclass(frozen=True)
class Notifier:
    url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = None
    email_to: tuple[str, ...] = ()
    email_from: str = "qbsync@localhost"
    secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Notifier | None":
        """The notifier the environment configures, or None when it configures none."""
        def get(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        url, host = get("QBSYNC_NOTIFY_URL"), get("QBSYNC_SMTP_HOST")
        to = tuple(a.strip() for a in (get("QBSYNC_NOTIFY_EMAIL_TO") or "").split(",") if a.strip())
        if not url and not (host and to):
            return None
        return cls(url=url, smtp_host=host if to else None, smtp_port=int(get("QBSYNC_SMTP_PORT") or 587),
                   starttls=(get("QBSYNC_SMTP_STARTTLS") or "true").lower() != "false",
                   smtp_user=get("QBSYNC_SMTP_USER"), smtp_password=get("QBSYNC_SMTP_PASSWORD"), email_to=to,
                   email_from=get("QBSYNC_NOTIFY_EMAIL_FROM") or "qbsync@localhost",
                   secrets=tuple(v for v in (get(name) for name in SECRET_VARIABLES) if v and len(v) >= 4))

    def __call__(self, summary: Any, where: str) -> list[str]:
        """Send the news of one run, if any; returns the problems met (never raises: a notification
        that cannot go must not fail the run it is about)."""
        if not summary.worth_telling:
            return []
        return self.send(headline(summary, where), summary.text(), {**summary.to_json(), "where": where},
                         "`qbsync held` lists what waits; `qbsync status` says how things stand.")

    def send(self, subject: str, text: str, payload: dict[str, Any], footer: str = "") -> list[str]:
        """POST {"text": subject and text, "qbsync": payload} and/or mail it; the problems met, never
        raised."""
        text = self._clean(subject + "\n" + text)
        problems = []
        if self.url:
            body = self._clean(json.dumps({"text": text, "qbsync": payload}, ensure_ascii=False, default=str))
            try:
                httpx.post(self.url, content=body.encode(), headers={"content-type": "application/json"},
                           timeout=10).raise_for_status()
            except httpx.HTTPError as exc:  # the URL is a secret: never in the message
                problems.append(f"the notification POST failed ({type(exc).__name__})")
        if self.smtp_host:
            message = EmailMessage()
            message["Subject"] = self._clean(subject)
            message["From"], message["To"] = self.email_from, ", ".join(self.email_to)
            message.set_content(text + (f"\n\n{footer}\n" if footer else "\n"))
            try:
                with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30) as smtp:
                    if self.starttls:
                        smtp.starttls()
                    if self.smtp_user:
                        smtp.login(self.smtp_user, self.smtp_password or "")
                    smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                problems.append(f"the notification email failed ({type(exc).__name__})")
        for problem in problems:
            log.warning("qbsync: %s", problem)
        return problems

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[secret]")
        return text


def headline(summary: Any, where: str) -> str:
    if summary.error:
        return f"qbsync ({where}): the run failed"
    if summary.failures:
        return f"qbsync ({where}): {len(summary.failures)} action(s) failed"
    if summary.new_warnings and not summary.new_held:
        return f"qbsync ({where}): {summary.warnings[0]}"
    if summary.recovered_from and not summary.new_held:
        return f"qbsync ({where}): runs work again"
    return f"qbsync ({where}): {summary.new_held} new held for review ({len(summary.held)} waiting)"
