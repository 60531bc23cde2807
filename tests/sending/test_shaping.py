"""Reacting to replies, over loopback: a sink answering as Gmail does when it throttles (421 4.7.28)
suspends Gmail-class mail (every domain behind Google's MX) while other providers' mail keeps flowing; the
suspended mail is not attempted, spends no attempt, and goes once the suspension ends."""

import threading
import time
from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from directmail.metrics import REPLIES
from sending import provider_limits, shaping
from sending.delivery import worker
from sending.models import DeliveryAttempt, Message, MessageState, ShapingRule, ShapingSlot, Suspension
from tests.sending.helpers import send, smtp_sender

pytestmark = pytest.mark.django_db(transaction=True)

THROTTLED = (
    "421 4.7.28 [127.0.0.1] Our system has detected an unusual rate of unsolicited mail originating from "
    "your IP address. To protect our users from spam, mail sent from your IP address has been temporarily "
    "rate limited."
)


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


def _worker_threads(count: int, seconds: float) -> list[threading.Thread]:
    """`count` delivery workers, each in its own thread with its own database connection."""

    def work():
        try:
            worker.deliver_due(max_seconds=seconds)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_provider_limits_hold_across_two_workers(mx):
    """One connection at a time to Gmail from this host, two messages per connection: two workers with
    Gmail mail for two domains take turns, and waiting for the slot spends no attempt."""
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    mx.handler.reply_delay = 0.05
    with override_settings(DELIVERY_PROVIDER_LIMITS={"gmail": {"connections": 1, "per_connection": 2}}):
        with mock.patch("sending.services.messages.kick_delivery"):  # the two workers below deliver
            sent = send(sender, [f"u{n}@workspace.example" for n in range(5)])
            sent += send(sender, [f"v{n}@gmail.com" for n in range(5)])
        for thread in _worker_threads(2, seconds=40):
            thread.join(timeout=60)
    assert Message.objects.filter(state=MessageState.DELIVERED).count() == len(sent) == 10
    assert mx.handler.peak_sessions == 1  # never two sessions to Gmail at once
    per_session = Counter(received.peer for received in mx.messages)
    assert max(per_session.values()) <= 2 and len(per_session) >= 5  # a new session every two messages
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}
    assert not ShapingSlot.objects.exclude(owner="").exists()  # every slot given back


def test_a_minute_budget_gives_the_rest_back_without_an_attempt(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    if timezone.now().second >= 50:  # the batch must not cross into the next minute, whose budget is new
        time.sleep(61 - timezone.now().second)
    with override_settings(DELIVERY_PROVIDER_LIMITS={"gmail": {"per_minute": 3}}):
        with mock.patch("sending.services.messages.kick_delivery"):
            sent = send(sender, [f"u{n}@workspace.example" for n in range(5)])
        token, claimed = worker.claim()
        worker.deliver_batch(token, claimed)
    states = Counter(Message.objects.values_list("state", "attempts"))
    assert states == {(MessageState.DELIVERED, 1): 3, (MessageState.QUEUED, 0): 2}
    waiting = Message.objects.filter(state=MessageState.QUEUED)
    assert all(m.next_attempt_at.second == 0 and m.next_attempt_at > timezone.now() for m in waiting)
    assert all(m.give_up_at > sent[0].give_up_at for m in waiting)  # moved by the wait
    assert not DeliveryAttempt.objects.filter(message__in=waiting).exists()  # nothing was tried


def test_a_rate_limited_answer_lowers_the_rate_and_mail_keeps_going(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    mx.script("a@workspace.example", "421 4.7.0 Try again later, closing connection.")
    sent = send(sender, ["a@workspace.example", "b@workspace.example"])
    [lowered] = Suspension.objects.all()
    assert (lowered.action, lowered.fraction, lowered.rule) == ("lower", 0.5, "gmail-rate-limited")
    assert shaping.fraction("gmail", "") == 0.5 and shaping.suspended("gmail", "") is None
    limits = provider_limits.limits_for("gmail", "", shaping.fraction("gmail", ""))
    assert limits.connections == 5 and limits.per_second == 12.5
    assert Message.objects.get(pk=sent[1].pk).state == MessageState.DELIVERED


def test_a_rule_staff_add_is_read_first_and_counted_by_class(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    ShapingRule.objects.create(
        name="elsewhere-slow-down", provider="other:elsewhere.example", code=451, pattern=r"slow\s+down",
        action="suspend", duration=timedelta(minutes=10), kind="rate limited",
    )  # fmt: skip
    before = REPLIES.labels("rate limited")._value.get()
    mx.script("a@elsewhere.example", "451 4.7.1 Please slow down")
    sent = send(sender, ["a@elsewhere.example", "b@elsewhere.example"])
    [held] = Suspension.objects.all()
    assert (held.provider, held.rule, held.origin) == (
        "other:elsewhere.example",
        "elsewhere-slow-down",
        "reply",
    )
    assert timedelta(minutes=9) < held.until - held.since <= timedelta(minutes=10)
    waiting = Message.objects.get(pk=sent[1].pk)
    assert waiting.attempts == 0 and "elsewhere-slow-down" in waiting.last_error
    assert REPLIES.labels("rate limited")._value.get() == before + 1
