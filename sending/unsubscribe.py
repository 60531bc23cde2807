"""Unsubscribing from batch mail: the links a message carries and what following them does.

Every batch message gets `List-Unsubscribe` (an https URL and a mailto address) with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), and a visible link in its body. The token
in both is the message's id with an HMAC of it (Django's secret key): it cannot be guessed or changed to
unsubscribe someone else. A POST to the URL (what mail clients send for one click) or mail to the address
unsubscribes; a GET only shows a page with a button. Unsubscribing adds the recipient to the suppression
list at the level the sender chose (account, sending domain or sender address) and is idempotent.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from sending import events
from sending.events import Event
from sending.models import Message, Suppression, SuppressionReason

_SALT = "sending.unsubscribe"

# DirectMail's UnSubscribeLinkType "default": batch mail carries the link when the recipient's domain holds
# one of these (its documented list of providers that ask bulk senders for one).
LINK_PROVIDERS = ("gmail", "yahoo", "google", "aol.com", "hotmail", "outlook", "ymail.com")


def wants_link(message: Message) -> bool:
    """Whether this message carries the unsubscribe link and headers."""
    envelope = message.envelope
    if not envelope.unsubscribe_link:
        return False
    return not envelope.unsubscribe_providers_only or any(p in message.rcpt_domain for p in LINK_PROVIDERS)


def token_for(message: Message) -> str:
    return f"{message.pk}.{_mac(message.pk)}"


def _mac(pk: int) -> str:
    return salted_hmac(_SALT, str(pk), algorithm="sha256").hexdigest()[:24]


def message_for(token: str) -> Message | None:
    """The message a token names, or None for a token we did not make."""
    pk, _dot, mac = token.partition(".")
    if not pk.isdigit() or len(pk) > 19 or not constant_time_compare(mac, _mac(int(pk))):
        return None
    return Message.objects.select_related("envelope__sender", "account").filter(pk=int(pk)).first()


def links(message: Message) -> tuple[str, str]:
    """(https URL, mailto address) for a message's List-Unsubscribe."""
    token = token_for(message)
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("sending_unsubscribe", args=[token])
    domain = message.envelope.sender.domain.name
    return url, f"unsubscribe+{token}@{domain}"


def scope_of(message: Message) -> str:
    envelope = message.envelope
    level = envelope.unsubscribe_level
    if level == "account":
        return ""
    if level == "sender":
        return envelope.sender.address.lower()
    return "@" + envelope.sender.address.rpartition("@")[2].lower()


def unsubscribe(message: Message, *, how: str) -> bool:
    """Suppress the message's recipient at its level. True the first time, False when already done."""
    scope = scope_of(message)
    try:
        with transaction.atomic():
            Suppression.objects.create(
                account=message.account,
                address=message.rcpt.lower(),
                scope=scope,
                reason=SuppressionReason.UNSUBSCRIBE,
                message=message,
                detail=how,
            )
            events.record([Event("unsubscribed", message, {"how": how})])
    except IntegrityError:
        return False  # unsubscribed already (the unique entry exists)
    return True
