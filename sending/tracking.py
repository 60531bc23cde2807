"""Open and click tracking: the pixel and the rewritten links a message carries, and recording their hits.

Links are signed: a click URL carries the message's id, the destination and an HMAC of both (Django's
secret key), so the redirect goes only where the server itself pointed, and nobody can count hits for
another message. Only absolute http(s) links without user info are rewritten; the redirect refuses anything
else even when signed. Recording a hit is one UPDATE of the message's counters (first time = unique) and one
event row: no lookups beyond the message, no rendering, no session.
"""

import html
import re
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from sending import events
from sending.events import Event
from sending.models import Message

_OPEN_SALT = "sending.tracking.open"
_CLICK_SALT = "sending.tracking.click"
# href="..." or href='...' inside an <a> tag (the sanitized templates and our own bodies use quotes).
_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_BOTS = re.compile(r"bot|crawl|spider|preview|proxy|scanner|googleimageproxy|yahoomailproxy", re.I)
_MOBILE = re.compile(r"mobile|iphone|ipad|android", re.I)


def _mac(salt: str, value: str) -> str:
    return salted_hmac(salt, value, algorithm="sha256").hexdigest()[:32]


def safe_destination(url: str) -> bool:
    """An absolute http(s) URL with a host and no user info: nothing a browser could read another way."""
    if any(c in url for c in "\\\r\n\t ") or url.startswith("//"):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc


def open_url(message: Message) -> str:
    token = f"{message.pk}.{_mac(_OPEN_SALT, str(message.pk))}"
    return settings.PUBLIC_BASE_URL + reverse("sending_track_open", args=[token])


def click_url(message: Message, destination: str) -> str:
    signature = _mac(_CLICK_SALT, f"{message.pk}\n{destination}")
    path = reverse("sending_track_click", args=[message.pk, signature])
    return f"{settings.PUBLIC_BASE_URL}{path}?{urlencode({'u': destination})}"


def rewrite_links(markup: str, message: Message) -> str:
    """Every safe http(s) link of an HTML body through our click redirect (others are left as they are)."""

    def rewrite(match: re.Match) -> str:
        destination = html.unescape(match.group(3)).strip()
        if not safe_destination(destination):
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{html.escape(click_url(message, destination))}{quote}"

    return _LINK.sub(rewrite, markup)


def add_pixel(markup: str, message: Message) -> str:
    pixel = f'<img src="{open_url(message)}" width="1" height="1" alt="" style="display:none">'
    at = markup.lower().rfind("</body>")
    return markup[:at] + pixel + markup[at:] if at >= 0 else markup + pixel


def message_for_open(token: str) -> int | None:
    pk, _dot, mac = token.partition(".")
    if pk.isdigit() and len(pk) <= 19 and constant_time_compare(mac, _mac(_OPEN_SALT, pk)):
        return int(pk)
    return None


def click_destination(pk: int, signature: str, destination: str) -> str | None:
    """The destination when the signature is ours for this message and the URL is safe, else None."""
    if not constant_time_compare(signature, _mac(_CLICK_SALT, f"{pk}\n{destination}")):
        return None
    return destination if safe_destination(destination) else None


def agent_class(user_agent: str) -> str:
    if not user_agent:
        return "unknown"
    if _BOTS.search(user_agent):
        return "proxy_or_bot"
    return "mobile" if _MOBILE.search(user_agent) else "desktop"


def record(pk: int, kind: str, *, user_agent: str = "", url: str = "") -> bool:
    """Count an open ("open") or a click ("click") of message `pk`; False when there is no such message."""
    now = timezone.now()
    count, first = ("opens", "first_opened_at") if kind == "open" else ("clicks", "first_clicked_at")
    with transaction.atomic():
        updated = Message.objects.filter(pk=pk).update(
            **{count: F(count) + 1, first: Coalesce(F(first), now)}
        )
        if not updated:
            return False
        message = (
            Message.objects.select_related("envelope__sender", "account").only(*_LISTENED, first).get(pk=pk)
        )
        detail = {"agent": agent_class(user_agent)}
        if url:
            detail["url"] = url[:2000]
        kind = "opened" if kind == "open" else "clicked"
        events.record([Event(kind, message, detail, first=getattr(message, first) == now)], at=now)
    return True


# What the events' listeners read of a message (sending.events): counters and webhook payloads.
_LISTENED = (
    "account_id", "rcpt", "message_id", "created_at", "account__time_zone",
    "envelope__env_id", "envelope__sender_id", "envelope__tag_name", "envelope__headers",
    "envelope__open_trace", "envelope__click_trace", "envelope__sender__address",
)  # fmt: skip
