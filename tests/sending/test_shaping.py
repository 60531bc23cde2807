"""Reacting to replies, over loopback: a sink answering as Gmail does when it throttles (421 4.7.28)
suspends Gmail-class mail (every domain behind Google's MX) while other providers' mail keeps flowing; the
suspended mail is not attempted, spends no attempt, and goes once the suspension ends."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from sending import providers
from sending.delivery import worker
from sending.models import DeliveryAttempt, Message, MessageState, Suspension
from sending.services import messages as mail
from tests.dnsserver import DnsServer
from tests.sending.helpers import smtp_sender
from tests.smtpsink import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

THROTTLED = (
    "421 4.7.28 [127.0.0.1] Our system has detected an unusual rate of unsolicited mail originating from "
    "your IP address. To protect our users from spam, mail sent from your IP address has been temporarily "
    "rate limited."
)


@pytest.fixture
def mx():
    providers._cache.clear()
    with SmtpSink() as sink, DnsServer() as dns:
        for domain, host in (
            ("workspace.example", "aspmx.l.google.com"),
            ("gmail.com", "gmail-smtp-in.l.google.com"),
            ("elsewhere.example", "mx.elsewhere.example"),
        ):
            dns.add(domain, "MX", f"10 {host}")
            dns.add(host, "A", "127.0.0.1")
        with override_settings(DELIVERY_MODE="mx", MX_PORT=sink.port, SMTP_TIMEOUT=5, EGRESS_HOST="worker-a"):
            yield sink
    providers._cache.clear()


def send(sender, rcpts: list[str]) -> list[Message]:
    enqueued = mail.message_enqueue(
        mail.Mail(account=sender.account, sender=sender, to=rcpts,
                  content=mail.Content(subject="Hi", text_body="Hello"))
    )  # fmt: skip
    return list(Message.objects.filter(envelope__env_id=enqueued.env_id).order_by("pk"))


def test_a_throttling_answer_suspends_the_provider_and_other_mail_keeps_flowing(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    mx.script("a@workspace.example", THROTTLED)
    first = send(sender, ["a@workspace.example", "b@workspace.example", "c@workspace.example"])
    [suspension] = Suspension.objects.all()
    assert suspension.provider == "gmail" and suspension.rule == "gmail-unsolicited-rate"
    assert "4.7.28" in suspension.reply and suspension.until > timezone.now() + timedelta(minutes=50)
    states = {m.rcpt: (m.state, m.attempts) for m in Message.objects.filter(pk__in=[m.pk for m in first])}
    assert states["a@workspace.example"] == (MessageState.DEFERRED, 1)  # the one that got the answer
    assert states["b@workspace.example"] == (MessageState.DEFERRED, 0)  # waiting: not attempted
    assert states["c@workspace.example"] == (MessageState.DEFERRED, 0)

    # Another Google-hosted domain waits too, without a connection; other providers' mail goes.
    [gmail] = send(sender, ["d@gmail.com"])
    [other] = send(sender, ["e@elsewhere.example"])
    gmail.refresh_from_db()
    other.refresh_from_db()
    assert gmail.state == MessageState.DEFERRED and gmail.attempts == 0 and "suspended" in gmail.last_error
    assert other.state == MessageState.DELIVERED
    assert [r.rcpt_tos[0] for r in mx.messages] == ["e@elsewhere.example"]
    assert DeliveryAttempt.objects.filter(message__rcpt_domain="gmail.com", code__isnull=False).count() == 0

    # The suspension ends (its time moved here): the waiting mail goes by itself.
    Suspension.objects.update(until=timezone.now() - timedelta(seconds=1))
    Message.objects.filter(state=MessageState.DEFERRED).update(next_attempt_at=timezone.now())
    mx.handler.rcpt_scripts.clear()
    worker.deliver_due(max_seconds=10)
    assert set(Message.objects.values_list("state", flat=True)) == {MessageState.DELIVERED}
