"""Build the message one recipient receives: headers, a text and an HTML part, nothing injected.

Every value that reaches a header was checked for CR/LF when the message was accepted; the email package's
SMTP policy encodes non-ASCII headers (RFC 2047) and writes CRLF line endings only.
"""

import html
import re
from datetime import UTC
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sending.models import Envelope, Message

_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr|table)>|<br\s*/?>", re.I)
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


def text_from_html(markup: str) -> str:
    """A plain-text part for mail that only has HTML: tags dropped, blocks kept apart."""
    text = _BLOCK_END.sub("\n", markup)
    text = html.unescape(_TAGS.sub("", text))
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def _address(display_name: str, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def build(
    envelope: Envelope, message: Message, *, extra_headers: dict[str, str] | None = None
) -> EmailMessage:
    """The unsigned message for `message.rcpt`."""
    sender = envelope.sender
    mail = EmailMessage(policy=SMTP)
    mail["From"] = _address(envelope.from_alias, sender.address)
    mail["To"] = _address("", message.rcpt)
    mail["Subject"] = envelope.subject
    mail["Date"] = format_datetime(message.created_at.astimezone(UTC))
    mail["Message-ID"] = f"<{message.message_id}>"
    reply_to = envelope.reply_to or (sender.reply_to if sender.reply_to_verified else "")
    if reply_to:
        mail["Reply-To"] = _address(envelope.reply_to_alias if envelope.reply_to else "", reply_to)
    for name, value in {**envelope.headers, **(extra_headers or {})}.items():
        mail[name] = value

    text = envelope.text_body or (text_from_html(envelope.html_body) if envelope.html_body else "")
    mail.set_content(text or "\n", subtype="plain", charset="utf-8", cte="quoted-printable")
    if envelope.html_body:
        mail.add_alternative(envelope.html_body, subtype="html", charset="utf-8", cte="quoted-printable")
    return mail


class HeaderInjection(ValueError):
    """The serialized message has a header nobody set: refuse to send it."""


_HEADER_LINE = re.compile(rb"^([!-9;-~]+):", re.M)


def to_bytes(mail: EmailMessage) -> bytes:
    """The message as CRLF bytes, checked: its top-level header names are exactly those we set.

    A safety net under the validation done at enqueue: Python's email package (before 3.11.10) wrote
    line breaks decoded from encoded words back out unquoted.
    """
    raw = mail.as_bytes(policy=SMTP)
    head = raw.split(b"\r\n\r\n", 1)[0]
    written = sorted(name.decode().lower() for name in _HEADER_LINE.findall(head))
    expected = sorted(name.lower() for name in mail)
    if written != expected:
        raise HeaderInjection(f"unexpected header lines: {sorted(set(written) - set(expected))}")
    return raw
