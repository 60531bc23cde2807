"""Complaints: feedback-loop reports (ARF, RFC 5965) applied to the message they are about.

A mailbox provider whose user pressed "this is spam" sends a multipart/report (report-type=feedback-report)
with a machine-readable message/feedback-report part (Feedback-Type, User-Agent, Original-Rcpt-To, ...) and
the original message or its headers. Providers send them to the feedback address of the sending domain
(`fbl@<domain>`, FEEDBACK_LOCAL_PART) or to the message's VERP return path; `manage.py smtpd` takes both,
`manage.py apply_feedback FILE` takes a saved one.

The complained message is found by, in this order: the VERP return path the report came to, the one the
original carries (Return-Path), the original's Message-ID (one per recipient), its Feedback-ID header with
the reported recipient. Variants: Yahoo's CFL (recipient redacted), Microsoft's JMRP (the recipient in the
original's X-HmXmrOriginalRecipient, also in its older form without a feedback-report part), Mail.ru (the
original's headers only), any recipient redacted as `redacted`, `xxxx@...` or `***`.

A complaint (Feedback-Type abuse, fraud, virus or other) is recorded once per message as a "complained"
event (sending.events: counted, on the dashboard, to webhooks as dm:Feedback:FblReport) and puts its
recipient on the account's suppression list with reason "complaint". Reports of other types (not-spam,
auth-failure) and reports about nobody's mail change nothing, and say why.
"""

import binascii
import email
import quopri
import re
from dataclasses import dataclass, field
from email.message import Message as MimeMessage
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from django.db import transaction

from sending import events
from sending.delivery.worker import message_from_return_path
from sending.events import Event
from sending.models import Domain, EventType, Message

COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other")
_ADDRESS = re.compile(r"<?([^<>\s;]+@[^<>\s;]+)>?")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_REDACTED = re.compile(r"redacted|^[x*#]{3,}@|^[x*#.]+$|\*{3,}", re.IGNORECASE)
# The feedback-report fields kept with the event, lower-cased as they are stored in its detail.
_KEPT = {
    "Feedback-Type": "feedback_type",
    "User-Agent": "user_agent",
    "Source-IP": "source_ip",
    "Arrival-Date": "arrival_date",
    "Reported-Domain": "reported_domain",
    "Reporting-MTA": "reporting_mta",
}


@dataclass
class FeedbackReport:
    """What a feedback report says, as far as it says it."""

    feedback_type: str  # lower case; "abuse" for a JMRP report without a feedback-report part
    fields: dict[str, str]  # _KEPT fields present, by their detail names
    recipients: list[str]  # Original-Rcpt-To (or X-HmXmrOriginalRecipient), redacted ones left out
    original: MimeMessage | None  # the original message, or its headers only
    reporter: str  # the domain the report came from (its From), e.g. arf.mail.yahoo.com
    redacted: bool = False  # a recipient was given, but redacted

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type in COMPLAINT_TYPES


@dataclass
class FeedbackResult:
    message: Message | None
    applied: list[str] = field(default_factory=list)  # "rcpt: outcome" lines, for the operator
    ignored: list[str] = field(default_factory=list)


_ENCODED = ("base64", "quoted-printable")


def _encoding(part: MimeMessage) -> str:
    return str(part.get("Content-Transfer-Encoding", "")).strip().lower()


def _nested(part: MimeMessage) -> MimeMessage | None:
    """A message/* part's message as the parser nested it, unless a transfer encoding hid it."""
    inner: Any = part.get_payload()
    return inner[0] if isinstance(inner, list) and inner and _encoding(part) not in _ENCODED else None


def _decoded(part: MimeMessage) -> bytes:
    """A part's body as bytes, its transfer encoding undone (providers base64 the odd message/* part,
    which the parser then nests as a headerless message around the encoded text)."""
    inner: Any = part.get_payload()
    if not isinstance(inner, list):
        payload = part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else str(inner or "").encode("utf-8", errors="replace")
    if not inner:
        return b""
    encoding = _encoding(part)
    if encoding not in _ENCODED:
        return inner[0].as_bytes()
    text = inner[0].as_bytes().lstrip(b"\r\n")
    try:
        return binascii.a2b_base64(text) if encoding == "base64" else quopri.decodestring(text)
    except binascii.Error:
        return b""


def _report_fields(part: MimeMessage) -> MimeMessage:
    """The fields of a message/feedback-report part (parsed as a nested message, or its decoded body)."""
    nested = _nested(part)
    return (
        nested if nested is not None else BytesHeaderParser(policy=default_policy).parsebytes(_decoded(part))
    )


def _original(report: MimeMessage) -> MimeMessage | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            nested = _nested(part)
            return (
                nested
                if nested is not None
                else email.message_from_bytes(_decoded(part), policy=default_policy)
            )
        if kind == "text/rfc822-headers":
            return BytesHeaderParser(policy=default_policy).parsebytes(_decoded(part))
    return None


def _addresses(values: list[Any]) -> tuple[list[str], bool]:
    """Addresses of header values, and whether one was redacted (and left out)."""
    found, redacted = [], False
    for value in values:
        match = _ADDRESS.search(str(value))
        address = match.group(1).strip() if match else str(value).strip()
        if not address:
            continue
        if _REDACTED.search(address) or "@" not in address:
            redacted = True
        else:
            found.append(address)
    return found, redacted


def _domain_of(value: str) -> str:
    match = _ADDRESS.search(value)
    return match.group(1).rpartition("@")[2].lower() if match else ""


def parse_report(raw: bytes) -> FeedbackReport | None:
    """The feedback report in `raw`, or None when it is none (a DSN, a reply, anything else)."""
    report = email.message_from_bytes(raw, policy=default_policy)
    fields_part = next((p for p in report.walk() if p.get_content_type() == "message/feedback-report"), None)
    original = _original(report)
    reporter = _domain_of(str(report.get("From", "")))
    if fields_part is not None:
        fields = _report_fields(fields_part)
        kept = {name: str(fields.get(header, "")).strip() for header, name in _KEPT.items()}
        kept = {name: value for name, value in kept.items() if value}
        rcpts = list(fields.get_all("Original-Rcpt-To") or [])
        feedback_type = kept.get("feedback_type", "").lower()
    elif original is not None and original.get("X-HmXmrOriginalRecipient"):
        # Microsoft's JMRP in its older form: the original attached, no feedback-report part.
        kept, rcpts, feedback_type = {"user_agent": "JMRP"}, [], "abuse"
    else:
        return None
    if not rcpts and original is not None:
        rcpts = list(original.get_all("X-HmXmrOriginalRecipient") or [])
    recipients, redacted = _addresses(rcpts)
    kept["feedback_type"] = feedback_type
    return FeedbackReport(feedback_type, kept, recipients, original, reporter, redacted)


def is_feedback_report(raw: bytes) -> bool:
    """Cheap test first (most mail to a return path is a DSN), then the parse."""
    head = raw[:200_000].lower()
    if b"feedback-report" not in head and b"x-hmxmroriginalrecipient" not in head:
        return False
    return parse_report(raw) is not None


def _by_return_path(address: str) -> Message | None:
    local = address.rpartition("@")[0]
    return message_from_return_path(local) if local.lower().startswith("bounce+") else None


def _by_feedback_id(original: MimeMessage, recipients: list[str]) -> Message | None:
    """The newest message to a reported recipient from the sender and account a Feedback-ID names."""
    parts = str(original.get("Feedback-ID", "")).strip().split(":")
    if len(parts) < 4 or not recipients:
        return None
    sender_id, account_id = parts[-3], parts[-2]
    return (
        Message.objects.filter(
            envelope__sender__public_id=sender_id,
            account__public_id=account_id,
            rcpt__in=[r.lower() for r in recipients] + recipients,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def find_message(report: FeedbackReport, envelope_to: str | None) -> Message | None:
    """The message a report is about (see the module's docstring for the order)."""
    if envelope_to:
        message = _by_return_path(envelope_to)
        if message is not None:
            return message
    original = report.original
    if original is None:
        return None
    match = _ADDRESS.search(str(original.get("Return-Path", "")))
    if match:
        message = _by_return_path(match.group(1))
        if message is not None:
            return message
    match = _MESSAGE_ID.search(str(original.get("Message-ID", "")))
    if match:
        message = Message.objects.filter(message_id=match.group(1)).first()
        if message is not None:
            return message
    return _by_feedback_id(original, report.recipients)


def _owner_of(address: str | None) -> int | None:
    """The account whose sending domain a feedback address (fbl@<domain>) is at."""
    if not address or address.lower().startswith("bounce+"):
        return None
    domain = address.rpartition("@")[2].lower()
    return Domain.objects.alive().filter(name=domain).values_list("account_id", flat=True).first()


def _detail(report: FeedbackReport) -> dict:
    detail: dict[str, Any] = {**report.fields, "reporter": report.reporter}
    agent = report.fields.get("user_agent", "")
    detail["text"] = f"{report.feedback_type} report" + (f" by {agent}" if agent else "")
    if report.redacted:
        detail["redacted"] = True
    return detail


def apply_feedback(raw: bytes, *, envelope_to: str | None = None) -> FeedbackResult:
    """Apply a feedback report to the message it is about (see the module's docstring)."""
    report = parse_report(raw)
    if report is None:
        return FeedbackResult(None, ignored=["not a feedback report (ARF, RFC 5965)"])
    message = find_message(report, envelope_to)
    owner = _owner_of(envelope_to)
    if message is None or (owner is not None and message.account_id != owner):
        names = ", ".join(report.recipients) or "a redacted recipient"
        return FeedbackResult(None, ignored=[f"{names}: not a recipient of a message of ours"])
    if not report.is_complaint:
        return FeedbackResult(
            message, ignored=[f"{message.rcpt}: a {report.feedback_type or 'typeless'} report, no complaint"]
        )
    return FeedbackResult(message, applied=[f"{message.rcpt}: {_complain(message, report)}"])


@transaction.atomic
def _complain(message: Message, report: FeedbackReport) -> str:
    """Record the complaint once per message; its recipient is suppressed (sending.events)."""
    message = (
        Message.objects.select_for_update().select_related("envelope__sender", "account").get(pk=message.pk)
    )
    if message.events.filter(type=EventType.COMPLAINED).exists():
        return "complaint already recorded"
    events.record([Event("complained", message, _detail(report))])
    return "complaint recorded, recipient suppressed"
