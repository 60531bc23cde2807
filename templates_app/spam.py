"""A template's spam score from SpamAssassin (spamd, at SPAMD_URL), through aiospamc.

`score_version` builds the mail one recipient would get (subject, HTML, text part; the sample data
filled in) and asks spamd for its REPORT: the score, the threshold, and the rules that fired with their
points. Nothing is sent anywhere else. Without SPAMD_URL the console says the check is not configured;
an unreachable spamd is an error shown in its place, never a failed save or submit.
"""

import asyncio
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

import aiospamc
from django.conf import settings
from django.utils import timezone

from templates_app import plaintext, rendering

_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


class SpamCheckError(Exception):
    """spamd could not be asked (not configured, unreachable, or an answer that is not a report)."""


@dataclass
class SpamResult:
    score: float
    threshold: float
    rules: list[tuple[float, str, str]] = field(default_factory=list)  # (points, name, description)

    @property
    def is_spam(self) -> bool:
        return self.score >= self.threshold

    def as_report(self) -> dict:
        return {"threshold": self.threshold, "rules": [list(rule) for rule in self.rules]}


def configured() -> bool:
    return bool(settings.SPAMD_URL)


def _address() -> tuple[str, int]:
    parts = urlsplit(settings.SPAMD_URL if "://" in settings.SPAMD_URL else f"spamd://{settings.SPAMD_URL}")
    if parts.scheme not in ("spamd", "tcp") or not parts.hostname:
        raise SpamCheckError(f"SPAMD_URL is spamd://host:port, not {settings.SPAMD_URL!r}")
    return parts.hostname, parts.port or 783


def parse_report(body: str) -> list[tuple[float, str, str]]:
    """The rules of a SpamAssassin report's "Content analysis details" table."""
    rules: list[tuple[float, str, str]] = []
    in_table = False
    for line in body.splitlines():
        if line.startswith("----"):
            in_table = True
            continue
        if not in_table:
            continue
        if match := _RULE.match(line):
            rules.append((float(match.group(1)), match.group(2), match.group(3).strip()))
        elif line.startswith(" ") and line.strip() and rules:  # a description's next line
            points, name, description = rules[-1]
            rules[-1] = (points, name, f"{description} {line.strip()}")
        elif not line.strip():
            in_table = False
    return rules


def score(raw: bytes) -> SpamResult:
    """spamd's report of a whole message."""
    if not configured():
        raise SpamCheckError("SPAMD_URL is not set")
    host, port = _address()
    timeout = aiospamc.Timeout(total=settings.SPAMD_TIMEOUT, connection=5)
    try:
        response = asyncio.run(aiospamc.report(raw, host=host, port=port, timeout=timeout))
    except (aiospamc.exceptions.ClientException, aiospamc.exceptions.TimeoutException, OSError,
            aiospamc.exceptions.BadResponse, aiospamc.exceptions.ParseError) as exc:  # fmt: skip
        raise SpamCheckError(f"spamd at {host}:{port} did not answer: {exc}") from exc
    verdict = response.headers.get("Spam")
    if verdict is None:
        raise SpamCheckError("spamd's answer has no score")
    return SpamResult(
        float(verdict.score), float(verdict.threshold), parse_report(response.body.decode("utf-8", "replace"))
    )


def message_for(
    *, subject: str, html: str, text: str, data: dict, sender: str, from_alias: str = ""
) -> bytes:
    """The mail a recipient with `data` would get from this template, as spamd reads it."""
    message = EmailMessage()
    message["From"] = f"{from_alias} <{sender}>" if from_alias else sender
    message["To"] = data.get("EAddr") or "recipient@example.com"
    message["Subject"] = rendering.render_subject(subject, data)
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "directmail.invalid")
    html = rendering.render_html(html, data)
    message.set_content(rendering.render_text(text, data) if text.strip() else plaintext.text_from_html(html))
    if html.strip():
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def sender_of(account) -> str:
    """The address a sample's From shows: the account's first sender address (example.com when none)."""
    address = (
        account.sender_addresses.filter(deleted_at__isnull=True)
        .order_by("pk")
        .values_list("address", flat=True)
        .first()
    )
    return address or "sender@example.com"


def check_version(version) -> None:
    """Score a submitted version with its template's sample data and keep the result on the version (an
    error in its place); not configured: nothing is kept."""
    if not configured() or version.template.kind != "email":
        return
    template = version.template
    raw = message_for(subject=version.subject, html=version.html_body, text=version.text_body,
                      data=template.sample_data, sender=sender_of(template.account),
                      from_alias=version.from_alias)  # fmt: skip
    try:
        result = score(raw)
    except SpamCheckError as exc:
        version.spam_score, version.spam_report = None, {"error": str(exc)}
    else:
        version.spam_score, version.spam_report = result.score, result.as_report()
    version.save(update_fields=["spam_score", "spam_report"])
