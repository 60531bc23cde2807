"""Asynchronous bounces: delivery status notifications (RFC 3464, multipart/report) applied per recipient.

A DSN names the message it is about through our VERP return path (bounce+<signed id>@...) or, failing that,
the Message-ID of the returned original. Only the per-recipient delivery-status fields count, and only
`Action: failed` is terminal; addresses quoted in the returned original message are never touched. Each
failure gets its bounce category from its Status and Diagnostic-Code (sending.bounce_categories).
"""

import email
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from django.db import transaction
from django.utils import timezone

from sending import bounce_categories, events
from sending.delivery.worker import message_from_return_path
from sending.events import Event
from sending.models import Message, MessageState


@dataclass(frozen=True)
class DsnRecipient:
    recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. 5.1.1
    diagnostic: str


@dataclass(frozen=True)
class BounceResult:
    message: Message | None
    applied: list[str]  # "rcpt: outcome" lines, for the operator
    ignored: list[str]


def _address(field: str | None) -> str:
    """`rfc822; User@Example.org` -> `User@Example.org`."""
    value = (field or "").split(";", 1)[-1].strip()
    return value.strip("<>")


def parse_dsn(raw: bytes) -> tuple[list[DsnRecipient], EmailMessage]:
    """The per-recipient fields of a DSN, and the parsed report (empty list when it is no DSN)."""
    report = email.message_from_bytes(raw, policy=default_policy)
    recipients: list[DsnRecipient] = []
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        # The first block is about the whole message; every later one is about one recipient.
        block: Any
        for block in blocks[1:] if isinstance(blocks, list) else []:
            recipient = _address(block.get("Final-Recipient")) or _address(block.get("Original-Recipient"))
            if not recipient:
                continue
            recipients.append(
                DsnRecipient(
                    recipient=recipient,
                    action=(block.get("Action") or "").strip().lower(),
                    status=(block.get("Status") or "").strip(),
                    diagnostic=str(block.get("Diagnostic-Code") or "").strip(),
                )
            )
    return recipients, report


_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def _original_message_id(report: EmailMessage) -> str | None:
    for part in report.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            headers: Any = (
                payload[0] if isinstance(payload, list) else email.message_from_string(str(payload))
            )
            match = _MESSAGE_ID.search(str(headers.get("Message-ID", "")))
            if match:
                return match.group(1)
    return None


def find_message(report: EmailMessage, envelope_to: str | None) -> Message | None:
    if envelope_to and envelope_to.lower().startswith("bounce+"):
        message = message_from_return_path(envelope_to.rpartition("@")[0])
        if message is not None:
            return message
    message_id = _original_message_id(report)
    return Message.objects.filter(message_id=message_id).first() if message_id else None


def apply_dsn(raw: bytes, *, envelope_to: str | None = None) -> BounceResult:
    """Apply a DSN to the message it is about: failed recipients become failed or invalid (suppressed)."""
    recipients, report = parse_dsn(raw)
    message = find_message(report, envelope_to)
    applied, ignored = [], []
    for item in recipients:
        if message is None or item.recipient.lower() != message.rcpt.lower():
            ignored.append(f"{item.recipient}: not a recipient of a message of ours")
        elif item.action != "failed":
            _event(message, "delayed" if item.action == "delayed" else None, item)
            ignored.append(f"{item.recipient}: {item.action or 'no action'}, not final")
        else:
            applied.append(f"{item.recipient}: {_fail(message, item)}")
    return BounceResult(message, applied, ignored)


def _category(item: DsnRecipient) -> str:
    return bounce_categories.categorize(None, item.diagnostic, status=item.status)


def _detail(item: DsnRecipient) -> dict:
    return {"dsn": True, "status": item.status, "text": item.diagnostic[:500], "category": _category(item)}


def _event(message: Message, kind: str | None, item: DsnRecipient) -> None:
    if kind:
        events.record([Event(kind, _loaded(message), _detail(item))])


def _loaded(message: Message) -> Message:
    """The message with what the events' listeners read (its envelope's sender, its account)."""
    return Message.objects.select_related("envelope__sender", "account").get(pk=message.pk)


@transaction.atomic
def _fail(message: Message, item: DsnRecipient) -> str:
    """A failed recipient: a recipient-caused bounce (bad mailbox, bad domain: sending.bounce_categories)
    makes the message invalid and suppresses the address; any other failure makes it failed (a blocklist
    or policy bounce never suppresses). A message already final stays as it is."""
    category = _category(item)
    invalid = bounce_categories.invalid(category, permanent=True)
    changes = {
        "last_error": f"bounce {item.status} {item.diagnostic}"[:2000],
        "bounce_category": category,
        "finished_at": timezone.now(),
        "lease_owner": "",
        "lease_until": None,
    }
    kind = "hard_bounced" if invalid else "bounced"
    recorded = events.record([Event(kind, _loaded(message), _detail(item))], changes=changes)
    if not recorded:
        return f"already {Message.objects.get(pk=message.pk).state}"
    return MessageState.INVALID if invalid else MessageState.FAILED
