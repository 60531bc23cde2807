"""Build the message one recipient receives: headers, a text and an HTML part, nothing injected.

Written by hand rather than through email.message.EmailMessage, whose header registry cost more than the
DKIM signature here: headers are encoded with email.header / email.utils (RFC 2047 for anything that is
not plain ASCII, so a literal "=?" can never be read as an encoded word), bodies are quoted-printable with
CRLF line ends, and the body of an envelope is encoded once for all its recipients. Every value that
reaches a header was checked for line breaks when the message was accepted, and the finished header block
is checked again before it leaves (`HeaderInjection`).
"""

import base64
import copy
import email
import email.policy
import email.utils
import functools
import html
import quopri
import re
import secrets
from collections.abc import Sequence
from datetime import UTC
from email.header import Header
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.utils.translation import gettext as _

from sending import headers as header_rules
from sending import tracking
from sending.models import Envelope, Message
from templates_app import plaintext, rendering

_HEADER_LINE = re.compile(rb"^([!-9;-~]+):", re.M)
MAX_HEADER_LINE = 998


class HeaderInjection(header_rules.UnsafeHeader):
    """The header block has a line nobody wrote: refuse to send it."""


def text_from_html(markup: str) -> str:
    """A plain-text part for mail that only has HTML: laid out by inscriptis, each link's URL after its
    text (templates_app.plaintext)."""
    return plaintext.text_from_html(markup)


def encode_header(name: str, value: str) -> str:
    """Plain ASCII stays as it is; anything else, or anything that looks like an encoded word, is encoded."""
    if value.isascii() and "=?" not in value and len(name) + len(value) + 2 <= 78:
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def encode_address(display_name: str, address: str) -> str:
    """A header address; a UTF-8 local part (SMTPUTF8 mail, RFC 6532) is written as UTF-8."""
    if display_name:
        if address.isascii():
            return formataddr((display_name, address), charset="utf-8")
        return f"{Header(display_name, 'utf-8').encode()} <{address}>"
    return address


def _quoted_printable(text: str) -> bytes:
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    return quopri.encodestring(normalized.encode("utf-8")).replace(b"\n", b"\r\n")


def personalize(envelope: Envelope, message: Message) -> Envelope:
    """A copy of a templated envelope with the recipient's variables filled in ({EAddr}: their address)."""
    data = {"EAddr": message.rcpt, **message.variables}
    personal = copy.copy(envelope)
    personal.subject = rendering.render_subject(envelope.subject, data)
    personal.html_body = rendering.render_html(envelope.html_body, data)
    # Without a text part of its own, the one made from the template's HTML (once per template and
    # process, not once per recipient), filled in like any text.
    text = envelope.text_body or (_template_text(envelope.html_body) if envelope.html_body else "")
    personal.text_body = rendering.render_text(text, data)
    return personal


@functools.lru_cache(maxsize=64)
def _template_text(html_body: str) -> str:
    return text_from_html(html_body)


def encode_attachment(filename: str, content_type: str, data: bytes) -> bytes:
    """One attachment as a MIME part (its header lines, a blank line, base64 in 76-character lines). A
    file name that is not plain ASCII is written both ways: RFC 2231 for the clients that read it, an
    RFC 2047 word in `name` for the older ones."""
    if filename.isascii():
        name = "name=" + email.utils.quote(filename).join('""')
        disposition = "filename=" + email.utils.quote(filename).join('""')
    else:
        name = f'name="{Header(filename, "utf-8").encode()}"'
        disposition = "filename*=" + email.utils.encode_rfc2231(filename, "utf-8")
    head = (
        f"Content-Type: {content_type}; {name}\r\nContent-Disposition: attachment; {disposition}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + base64.encodebytes(data).replace(b"\n", b"\r\n")


def encode_body(envelope: Envelope, attachments: Sequence[bytes] = ()) -> tuple[bytes, bytes]:
    """(Content-* header lines, body) of an envelope: text/plain, or multipart/alternative with HTML;
    with `attachments` (encode_attachment parts) all of it in a multipart/mixed."""
    content_headers, body = _encode_text(envelope)
    if not attachments:
        return content_headers, body
    boundary = f"=_dm_mixed_{secrets.token_hex(12)}".encode()
    parts = [b"--" + boundary + b"\r\n" + content_headers + b"\r\n" + body + b"\r\n"]
    parts += [b"--" + boundary + b"\r\n" + part + b"\r\n" for part in attachments]
    parts.append(b"--" + boundary + b"--\r\n")
    return b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n', b"".join(parts)


def _encode_text(envelope: Envelope) -> tuple[bytes, bytes]:
    text = envelope.text_body or (text_from_html(envelope.html_body) if envelope.html_body else "\n")
    plain_headers = (
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    )
    plain = _quoted_printable(text)
    if not envelope.html_body:
        return plain_headers, plain
    boundary = f"=_dm_{secrets.token_hex(12)}".encode()
    html_headers = (
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    )
    body = b"".join(
        [
            b"--" + boundary + b"\r\n" + plain_headers + b"\r\n" + plain + b"\r\n",
            b"--"
            + boundary
            + b"\r\n"
            + html_headers
            + b"\r\n"
            + _quoted_printable(envelope.html_body)
            + b"\r\n",
            b"--" + boundary + b"--\r\n",
        ]
    )
    return b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n', body


def with_tracking(envelope: Envelope, message: Message) -> Envelope:
    """A copy of the envelope whose HTML has its links through the click redirect (click_trace) and the
    open pixel (open_trace); the text part is made from the original HTML, without them."""
    tracked = copy.copy(envelope)
    if not envelope.text_body:
        tracked.text_body = text_from_html(envelope.html_body)
    markup = envelope.html_body
    if envelope.click_trace:
        markup = tracking.rewrite_links(markup, message)
    if envelope.open_trace:
        markup = tracking.add_pixel(markup, message)
    tracked.html_body = markup
    return tracked


def with_unsubscribe(envelope: Envelope, url: str, mailto: str) -> tuple[Envelope, list[tuple[str, str]]]:
    """A copy of the envelope with a visible unsubscribe link in its bodies, and the List-Unsubscribe
    headers (RFC 2369, one-click by RFC 8058) to pass to build() as `raw_headers` (ASCII, folded)."""
    linked = copy.copy(envelope)
    words = _("Do not want these emails? Unsubscribe")
    if envelope.html_body:
        link = (
            f'<p style="font-size:12px;color:#666666">{html.escape(words)}: '
            f'<a href="{html.escape(url)}">{html.escape(url)}</a></p>'
        )
        at = envelope.html_body.lower().rfind("</body>")
        body = envelope.html_body
        linked.html_body = body[:at] + link + body[at:] if at >= 0 else body + link
    text = envelope.text_body or (text_from_html(envelope.html_body) if envelope.html_body else "")
    linked.text_body = f"{text.rstrip()}\n\n{words}: {url}\n"
    return linked, unsubscribe_headers(url, mailto)


def unsubscribe_headers(url: str, mailto: str) -> list[tuple[str, str]]:
    """List-Unsubscribe (RFC 2369) with one-click (RFC 8058), folded."""
    return [
        ("List-Unsubscribe", f"<{url}>,\r\n <mailto:{mailto}?subject=unsubscribe>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]


def _visible_to(envelope: Envelope) -> str:
    """The To header of a Bcc copy: the envelope's visible recipients, one per folded line."""
    return ",\r\n ".join(encode_address("", address) for address in envelope.visible_to.split(", "))


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def feedback_id(envelope: Envelope, message: Message) -> str:
    """Gmail's Feedback-ID (support.google.com/a/answer/6254652): campaign, sender, account and our stable
    sender id (FEEDBACK_SENDER_ID), so that Postmaster Tools counts complaints per campaign and customer.
    The campaign is the tag, else the batch send (its EnvId), else how the mail came in."""
    if envelope.tag_name:
        campaign = _ID_UNSAFE.sub("-", envelope.tag_name)[:64]
    elif envelope.source == Envelope.Source.BATCH:
        campaign = f"b{envelope.env_id}"
    else:
        campaign = envelope.source
    sender = envelope.sender
    return f"{campaign}:{sender.public_id}:{message.account.public_id}:{settings.FEEDBACK_SENDER_ID}"


def build(
    envelope: Envelope,
    message: Message,
    *,
    body: tuple[bytes, bytes] | None = None,
    extra_headers: dict[str, str] | None = None,
    raw_headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The unsigned message for `message.rcpt` as CRLF bytes; `body` is encode_body(envelope), if at hand."""
    sender = envelope.sender
    headers = [
        ("From", encode_address(envelope.from_alias, sender.address)),
        # A Bcc copy shows the visible recipients, never its own address (nor the other Bcc ones).
        ("To", _visible_to(envelope) if message.bcc else encode_address("", message.rcpt)),
        ("Subject", encode_header("Subject", envelope.subject)),
        ("Date", format_datetime(message.created_at.astimezone(UTC))),
        ("Message-ID", f"<{message.message_id}>"),
        ("Feedback-ID", feedback_id(envelope, message)),
    ]
    reply_to = envelope.reply_to or (
        sender.reply_to if sender.reply_to_verified and envelope.use_sender_reply_to else ""
    )
    if reply_to:
        headers.append(
            ("Reply-To", encode_address(envelope.reply_to_alias if envelope.reply_to else "", reply_to))
        )
    headers.extend(raw_headers or [])
    # The caller's own headers; one that we write too (Message-ID, Feedback-ID, List-Unsubscribe) replaces
    # ours.
    given = {**envelope.headers, **(extra_headers or {})}
    replaced = {name.lower() for name in given}
    headers = [(name, value) for name, value in headers if name.lower() not in replaced]
    headers.extend((name, encode_header(name, value)) for name, value in given.items())
    headers.append(("MIME-Version", "1.0"))
    content_headers, payload = body or encode_body(envelope)
    # ASCII, except a UTF-8 recipient address, which only goes to servers that speak SMTPUTF8.
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8") + content_headers
    _check_head(head, [name for name, _value in headers] + ["Content-Type", "Content-Transfer-Encoding"])
    return head + b"\r\n" + payload


# Headers read from the client are written back exactly as they came (never re-folded: a re-fold decodes
# encoded words, and CPython before 3.11.10 wrote a decoded CR LF out as real header lines).
_AS_RECEIVED = email.policy.SMTP.clone(refold_source="none")
_CONTENT_HEADERS = {b"content-type", b"content-transfer-encoding", b"mime-version"}


def track_raw(raw: bytes, message: Message, *, click: bool, pixel: bool) -> bytes:
    """An SMTP submission with its HTML parts tracked (X-AliDM-Trace): links through the click redirect,
    the open pixel added. Only text/html parts that are not attachments change (re-encoded as UTF-8
    quoted-printable); a message without one is returned as it was. The message's own header block is
    kept byte for byte, but for the Content-* headers of a message that is one HTML part."""
    parsed = email.message_from_bytes(raw, policy=_AS_RECEIVED)
    changed = False
    for part in parsed.walk():
        if part.get_content_type() != "text/html" or part.is_attachment():
            continue
        markup = part.get_content()
        tracked = tracking.rewrite_links(markup, message) if click else markup
        tracked = tracking.add_pixel(tracked, message) if pixel else tracked
        if tracked != markup:
            part.set_content(tracked, subtype="html", charset="utf-8", cte="quoted-printable")
            changed = True
    if not changed:
        return raw
    head, _sep, _body = raw.partition(b"\r\n\r\n")
    new_head, _sep, new_body = parsed.as_bytes().partition(b"\r\n\r\n")
    kept = [(n, v) for n, v in header_rules.fields(head) if n.lower() not in _CONTENT_HEADERS]
    content = [(n, v) for n, v in header_rules.fields(new_head) if n.lower() in _CONTENT_HEADERS]
    lines = b"".join(name + b":" + value + b"\r\n" for name, value in kept + content)
    return lines + b"\r\n" + new_body


def build_raw(raw: bytes, message: Message) -> bytes:
    """The unsigned message for `message.rcpt` of an SMTP submission: the client's message as accepted
    (control headers already removed, our Received header in front), with a Message-ID and a Date added
    when the client gave none."""
    head, _sep, _body = raw.partition(b"\r\n\r\n")
    present = {name.decode().lower() for name in _HEADER_LINE.findall(head)}
    added = b""
    if "message-id" not in present:
        added += f"Message-ID: <{message.message_id}>\r\n".encode()
    if "date" not in present:
        added += f"Date: {format_datetime(message.created_at.astimezone(UTC))}\r\n".encode()
    if not added:
        return raw
    # After our Received header (the first line and its continuations), before the client's own headers.
    end = _end_of_first_header(raw)
    return raw[:end] + added + raw[end:]


def add_raw_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """An SMTP submission with `headers` (ASCII, folded) added after our Received header, unless the client
    wrote one of that name itself (its List-Unsubscribe is its own)."""
    head = raw.partition(b"\r\n\r\n")[0]
    present = {name.decode().lower() for name in _HEADER_LINE.findall(head)}
    added = "".join(f"{n}: {v}\r\n" for n, v in headers if n.lower() not in present).encode()
    if not added:
        return raw
    end = _end_of_first_header(raw)
    return raw[:end] + added + raw[end:]


def _end_of_first_header(raw: bytes) -> int:
    end = raw.index(b"\r\n") + 2
    while raw[end : end + 1] in (b" ", b"\t"):
        end = raw.index(b"\r\n", end) + 2
    return end


def _check_head(head: bytes, written: list[str]) -> None:
    found = {name.decode().lower() for name in _HEADER_LINE.findall(head)}
    allowed = {name.lower() for name in written}
    unexpected = found - allowed
    bare = re.search(rb"(?<!\r)\n|\r(?!\n)", head)
    too_long = any(len(line) > MAX_HEADER_LINE for line in head.split(b"\r\n"))
    if unexpected or bare or too_long:
        raise HeaderInjection(f"refusing a header block with {sorted(unexpected) or 'a bad line'}")
