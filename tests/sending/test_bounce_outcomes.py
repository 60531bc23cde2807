"""Bounce categories end to end, over loopback: a sink answering real providers' refusals; each outcome's
category in the message, its attempts, its events, the statistics and webhooks; only recipient-caused ones
suppress; a mailbox full again and again is suppressed; repeated blocklist refusals warn the account; DSNs
get their category from their Status and Diagnostic-Code."""

import pytest
from django.core import mail as sent_mail
from django.test import override_settings
from django.urls import reverse

from accounts.crypto import encrypt
from accounts.models import Membership
from sending.delivery.bounces import apply_dsn
from sending.delivery.worker import return_path
from sending.models import BounceWarning, DeliveryAttempt, Message, MessageEvent, MessageState, Suppression
from stats import counters
from stats.models import CategoryCounter, WebhookEndpoint, WebhookEvent
from tests.base import PASSWORD
from tests.sending.helpers import send, smtp_sender

pytestmark = pytest.mark.django_db(transaction=True)

SPAMHAUS = (
    "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; "
    "https://www.spamhaus.org/query/ip/127.0.0.1"
)


def states(messages):
    return {
        m.rcpt: (m.state, m.bounce_category) for m in Message.objects.filter(pk__in=[m.pk for m in messages])
    }


def test_each_outcome_has_its_category_and_only_bad_addresses_are_suppressed(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    WebhookEndpoint.objects.create(
        account=sender.account, url="http://127.0.0.1:9/hook", event_types=["failed", "invalid"],
        secret_encrypted=encrypt("s"),
    )  # fmt: skip
    mx.script("gone@elsewhere.example", "550 5.1.1 <gone@elsewhere.example>: Recipient address rejected: "
                                        "User unknown in virtual mailbox table")  # fmt: skip
    mx.script("listed@elsewhere.example", SPAMHAUS)
    mx.script("vague@elsewhere.example", "550 Ip limited")
    mx.script(
        "full@elsewhere.example",
        "452 4.2.2 <full@elsewhere.example>: Recipient address rejected: Mailbox full",
    )
    mx.script(
        "big@elsewhere.example", "552 5.3.4 Message size exceeds fixed maximum message size", stage="data"
    )
    sent = send(sender, [f"{n}@elsewhere.example" for n in ("gone", "listed", "vague", "full", "big")])
    assert states(sent) == {
        "gone@elsewhere.example": (MessageState.INVALID, "bad_mailbox"),
        "listed@elsewhere.example": (MessageState.FAILED, "reputation"),
        "vague@elsewhere.example": (MessageState.FAILED, "rate_limited"),
        "full@elsewhere.example": (MessageState.DEFERRED, "mailbox_full"),
        "big@elsewhere.example": (MessageState.FAILED, "too_large"),
    }
    assert list(Suppression.objects.values_list("address", "reason")) == [
        ("gone@elsewhere.example", "hard_bounce")
    ]
    attempt = DeliveryAttempt.objects.get(message__rcpt="listed@elsewhere.example")
    assert attempt.category == "reputation" and attempt.get_category_display() == "Reputation or blocklist"
    event = MessageEvent.objects.get(message__rcpt="listed@elsewhere.example", type="failed")
    assert event.detail["category"] == "reputation"
    hooks = {e.payload["data"]["rcpt"]: e.payload["data"] for e in WebhookEvent.objects.all()}
    assert hooks["listed@elsewhere.example"]["bounce_category"] == "reputation"
    assert hooks["gone@elsewhere.example"]["bounce_category"] == "bad_mailbox"
    assert hooks["gone@elsewhere.example"]["failed_type"] == "invalid_address"

    # Counted by category on the day, and the counters rebuilt from the events agree.
    counted = {row.category: (row.deferred, row.failed, row.invalid) for row in CategoryCounter.objects.all()}
    assert counted == {"bad_mailbox": (0, 0, 1), "reputation": (0, 1, 0), "rate_limited": (0, 1, 0),
                       "mailbox_full": (1, 0, 0), "too_large": (0, 1, 0)}  # fmt: skip
    counters.rebuild(sender.account.pk)
    assert {r.category: (r.deferred, r.failed, r.invalid) for r in CategoryCounter.objects.all()} == counted

    # A delivery later clears the category.
    mx.handler.rcpt_scripts.clear()
    Message.objects.filter(rcpt="full@elsewhere.example").update(next_attempt_at=sent[0].created_at)
    from sending.delivery import worker

    worker.deliver_due(max_seconds=5)
    assert states([sent[3]])["full@elsewhere.example"] == (MessageState.DELIVERED, "")


@override_settings(BOUNCE_MAILBOX_FULL_SUPPRESS_AFTER=3)
def test_a_mailbox_full_again_and_again_is_suppressed(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    mx.script("full@elsewhere.example", "552 5.2.2 The email account that you tried to reach is over quota.")
    for _ in range(2):
        send(sender, ["full@elsewhere.example"])
    assert not Suppression.objects.exists()  # twice is not yet a pattern
    send(sender, ["full@elsewhere.example"])
    [entry] = Suppression.objects.all()
    assert (entry.address, entry.reason) == ("full@elsewhere.example", "mailbox_full")


@override_settings(BOUNCE_WARNING_AFTER=3)
def test_repeated_blocklist_refusals_warn_the_account_and_never_suppress(mx, client):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    for n in range(4):
        mx.script(f"r{n}@elsewhere.example", SPAMHAUS)
    send(sender, [f"r{n}@elsewhere.example" for n in range(4)])
    assert not Suppression.objects.exists()
    [warning] = BounceWarning.objects.all()
    assert (warning.provider, warning.category, warning.count) == ("other:elsewhere.example", "reputation", 4)
    assert "spamhaus" in warning.last_reply and warning.notified_at is not None
    [notice] = sent_mail.outbox  # once, when the threshold was reached
    assert "reputation" in notice.subject.lower() or "blocklist" in notice.subject.lower()
    assert "elsewhere.example" in notice.body and "not suppressed" in notice.body

    owner = Membership.objects.get(account=sender.account).user
    owner.set_password(PASSWORD)
    owner.save()
    client.login(email="owner@example.com", password=PASSWORD)
    overview = client.get(reverse("accounts:overview", args=[sender.account.public_id])).content.decode()
    assert 'data-bounce-warning="other:elsewhere.example:reputation"' in overview
    dashboard = client.get(reverse("stats:dashboard", args=[sender.account.public_id])).content.decode()
    assert 'data-category="reputation"' in dashboard and "data-bounce-warning" in dashboard
    listed = client.get(reverse("sending:messages", args=[sender.account.public_id]) + "?category=reputation")
    assert listed.content.decode().count('data-category="reputation"') == 4
    other = client.get(reverse("sending:messages", args=[sender.account.public_id]) + "?category=bad_mailbox")
    assert 'data-category="reputation"' not in other.content.decode()


def _dsn(message: Message, status: str, diagnostic: str) -> bytes:
    """A Postfix-style DSN (RFC 3464) about `message`, sent to its return path."""
    return (
        f"From: MAILER-DAEMON@elsewhere.example\r\nTo: {return_path(message)}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host elsewhere.example.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.elsewhere.example\r\n\r\n"
        f"Final-Recipient: rfc822; {message.rcpt}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n--B--\r\n"
    ).encode()


def test_dsns_get_their_category_and_a_blocklist_bounce_does_not_suppress(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    first, second = send(sender, ["a@elsewhere.example", "b@elsewhere.example"])  # delivered
    listed = "550 5.7.1 rejected because 127.0.0.1 is in a black list at zen.spamhaus.org"
    apply_dsn(_dsn(first, "5.7.1", listed), envelope_to=return_path(first))
    unknown = "550 5.1.1 <b@elsewhere.example>: Recipient address rejected: User unknown"
    apply_dsn(_dsn(second, "5.1.1", unknown), envelope_to=return_path(second))
    assert states([first, second]) == {
        "a@elsewhere.example": (MessageState.FAILED, "reputation"),
        "b@elsewhere.example": (MessageState.INVALID, "bad_mailbox"),
    }
    assert list(Suppression.objects.values_list("address", flat=True)) == ["b@elsewhere.example"]
