"""Reading a submitted message before it is accepted: the header From, our loop guard, DirectMail's control
headers (`X-AliDM-Settings`, `X-AliDM-Trace`) and `X-Idempotency-Key`, which are consumed here and removed
before delivery, and the Received header we put in front. The body is never parsed."""

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.utils import format_datetime, getaddresses

from django.utils import timezone

from sending import headers as header_rules

# Headers the server consumes (and Bcc, which must never travel, and Return-Path, which receivers set).
CONSUMED = {"x-alidm-settings", "x-alidm-trace", "x-idempotency-key", "bcc", "return-path"}
LINK_TYPES = ("disabled", "default")
FILTER_LEVELS = ("disabled", "default", "mailfrom", "mailfrom_domain", "edm_id")
MAX_OWN_RECEIVED = 3  # our own Received headers on one message: more means it is going round in circles
MAX_RECEIVED = 50


class Refused(Exception):
    """The message is refused with this SMTP reply."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


@dataclass
class Submission:
    raw: bytes  # the message to store: our Received header, then the client's message without CONSUMED
    subject: str = ""
    open_trace: bool = False
    click_trace: bool = False
    tag_name: str = ""
    unsubscribe: dict = field(default_factory=dict)  # FilterLevel and LinkType, "default" unless given
    idempotency_key: str = ""
    fingerprint: str = ""  # what identifies the message for its idempotency key (without our Received)
    ip_pool: str = ""  # X-AliDM-Settings OutboundIp IpPoolId, checked against the account when stored


def _headers(head: bytes) -> list[tuple[str, bytes]]:
    """(lower-case name, the whole header with its continuation lines and CRLF) in order, read strictly
    (sending.headers.fields: a malformed line such as the obsolete `From :` is refused)."""
    if not head:
        return []
    try:
        found = header_rules.fields(head)
    except header_rules.UnsafeHeader as exc:
        raise Refused(f"554 5.6.0 Message refused: {exc}") from exc
    return [(name.decode("ascii").lower(), name + b":" + value + b"\r\n") for name, value in found]


def _value(header: bytes) -> str:
    text = header.split(b":", 1)[1].decode("utf-8", errors="replace")
    return " ".join(text.split())


def _decoded(value: str) -> str:
    """A header value with RFC 2047 encoded words decoded (mail libraries fold long values that way)."""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def _decode_json(name: str, value: str) -> dict:
    try:
        data = json.loads(base64.b64decode("".join(_decoded(value).split()), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise Refused(f"504 5.5.2 Invalid setting: {name} is not base64 of a JSON object") from exc
    if not isinstance(data, dict):
        raise Refused(f"504 5.5.2 Invalid setting: {name} is not base64 of a JSON object")
    return data


def _apply_trace(submission: Submission, value: str) -> None:
    trace = _decode_json("X-AliDM-Trace", value)
    for key in ("OpenTrace", "LinkTrace"):
        if str(trace.get(key, "0")) not in ("0", "1"):
            raise Refused(f"504 5.5.2 Invalid setting: X-AliDM-Trace {key} must be 0 or 1")
    submission.open_trace = str(trace.get("OpenTrace", "0")) == "1"
    submission.click_trace = str(trace.get("LinkTrace", "0")) == "1"
    submission.tag_name = str(trace.get("TagName", "")).strip()


def _apply_settings(submission: Submission, value: str) -> None:
    """DirectMail's X-AliDM-Settings: base64 of {"Version": "1.0", "Unsubscribe": {"LinkType",
        "FilterLevel"}, "OutboundIp": {"IpPoolId"}} (the pool is looked up in the sender's account when the
    message is stored: sending.smtp.store)."""
    settings = _decode_json("X-AliDM-Settings", value)
    unknown = sorted(set(settings) - {"Version", "Unsubscribe", "OutboundIp"})
    if unknown:
        raise Refused(f"504 5.5.2 Invalid setting: X-AliDM-Settings has unknown fields {', '.join(unknown)}")
    unsubscribe = settings.get("Unsubscribe") or {}
    outbound = settings.get("OutboundIp") or {}
    if not isinstance(unsubscribe, dict) or not isinstance(outbound, dict):
        raise Refused("504 5.5.2 Invalid setting: X-AliDM-Settings Unsubscribe and OutboundIp are objects")
    level, link = unsubscribe.get("FilterLevel", "default"), unsubscribe.get("LinkType", "default")
    if level not in FILTER_LEVELS or link not in LINK_TYPES:
        raise Refused("504 5.5.2 Invalid setting: X-AliDM-Settings Unsubscribe FilterLevel or LinkType")
    submission.ip_pool = str(outbound.get("IpPoolId", "")).strip()
    submission.unsubscribe = {"FilterLevel": level, "LinkType": link}


def read_submission(data: bytes, *, sender: str, received: str, hostname: str) -> Submission:
    """Check the message of an authenticated `sender` and prepare what is stored; raises Refused."""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    head, blank, body = data.partition(b"\r\n\r\n")
    if not blank:
        head, body = data.rstrip(b"\r\n"), b""
    headers = _headers(head)
    names = [name for name, _text in headers]
    own = sum(
        1 for name, text in headers if name == "received" and f"by {hostname} (directmail)".encode() in text
    )
    if own >= MAX_OWN_RECEIVED or names.count("received") >= MAX_RECEIVED:
        raise Refused("554 5.4.6 Routing loop detected: this message has passed through here before")
    froms = [text for name, text in headers if name == "from"]
    addresses = [address for _name, address in getaddresses([_value(text) for text in froms])]
    if len(froms) != 1 or len(addresses) != 1 or addresses[0].lower() != sender.lower():
        raise Refused(
            f"553 5.7.1 Header From doesn't conform with authentication (Auth Account:{sender}|"
            f"From:{', '.join(addresses) or 'none'})"
        )
    submission = Submission(raw=b"")
    for name, text in headers:
        if name == "x-alidm-trace":
            _apply_trace(submission, _value(text))
        elif name == "x-alidm-settings":
            _apply_settings(submission, _value(text))
        elif name == "x-idempotency-key":
            submission.idempotency_key = _decoded(_value(text))[:128]
        elif name == "subject":
            submission.subject = _decoded(_value(text))[:998]
    kept = b"".join(text for name, text in headers if name not in CONSUMED)
    try:
        header_rules.check_block(kept.removesuffix(b"\r\n"), sender=sender)
    except header_rules.UnsafeHeader as exc:
        raise Refused(f"554 5.6.0 Message refused: {exc}") from exc
    submission.fingerprint = hashlib.sha256(kept + b"\r\n" + body).hexdigest()
    submission.raw = received.encode() + kept + b"\r\n" + body
    return submission


def received_header(*, helo: str, ip: str, hostname: str, protocol: str, queue_id: str) -> str:
    """Our trace header (RFC 5321 4.4), folded to stay well under 998 characters a line."""
    helo = re.sub(r"[^A-Za-z0-9.\-\[\]:]", "", helo)[:255] or "unknown"
    return (
        f"Received: from {helo} ([{ip}])\r\n\tby {hostname} (directmail) with {protocol} id {queue_id};\r\n"
        f"\t{format_datetime(timezone.now())}\r\n"
    )
