"""The per-day counters: kept as events happen, equal to a recount from the events, days in the account's
time zone."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

from django.core.management import call_command
from django.test import TestCase, override_settings

from accounts.audit import SYSTEM
from sending import tracking, unsubscribe
from sending.delivery.worker import deliver_due
from sending.models import Message
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from sending.services.suppressions import suppression_add
from sending.services.tags import tag_create
from stats import counters
from stats.models import COUNTER_FIELDS, DailyCounter
from tests.base import People
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink


def snapshot() -> dict:
    return {
        (r.account_id, r.day, r.sender_id, r.tag_name): {f: getattr(r, f) for f in COUNTER_FIELDS}
        for r in DailyCounter.objects.all()
    }


class CountersTest(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()
        cls.sender = sender_address_create(
            account=cls.account,
            domain=verified_domain(cls.account),
            local_part="hi",
            send_type="trigger",
            actor=SYSTEM,
        )
        tag_create(account=cls.account, name="welcome", actor=SYSTEM)

    def test_counted_as_it_happens_and_equal_to_a_recount(self):
        suppression_add(account=self.account, address="gone@dest.test", actor=SYSTEM)
        to = ["ann@dest.test", "bob@dest.test", "nobody@dest.test", "gone@dest.test"]
        message_enqueue(
            Mail(
                account=self.account,
                sender=self.sender,
                to=to,
                content=Content(subject="s", html_body="<p>x</p>", open_trace=True),
                tag_name="welcome",
            )
        )
        message_enqueue(
            Mail(
                account=self.account,
                sender=self.sender,
                to="cy@dest.test",
                content=Content(subject="s", text_body="t"),
            )
        )
        with (
            SmtpSink() as sink,
            override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
        ):
            sink.script("bob@dest.test", "451 4.3.0 later", "250 OK")
            sink.script("nobody@dest.test", "550 5.1.1 no such user")
            deliver_due(max_seconds=20)
            Message.objects.filter(rcpt="bob@dest.test").update(next_attempt_at=datetime.now(UTC))
            deliver_due(max_seconds=20)
        ann = Message.objects.get(rcpt="ann@dest.test")
        for _ in range(2):
            tracking.record(ann.pk, "open")
        tracking.record(ann.pk, "click", url="https://x.example/")
        unsubscribe.unsubscribe(ann, how="test")

        [tagged] = DailyCounter.objects.filter(tag_name="welcome")
        self.assertEqual(
            {f: getattr(tagged, f) for f in COUNTER_FIELDS},
            {"requests": 4, "sent": 3, "delivered": 2, "deferred": 1, "failed": 0, "invalid": 2, "opens": 2,
             "unique_opens": 1, "clicks": 1, "unique_clicks": 1, "unsubscribes": 1, "complaints": 0,
             "tracked": 2},
        )  # fmt: skip
        [untagged] = DailyCounter.objects.filter(tag_name="")
        self.assertEqual((untagged.requests, untagged.delivered), (1, 1))
        live = snapshot()
        out = StringIO()
        call_command("rebuild_counters", stdout=out)
        self.assertEqual(out.getvalue().strip(), "rebuilt 2 counter rows")
        self.assertEqual(snapshot(), live)

    def test_days_follow_the_accounts_time_zone(self):
        self.account.time_zone = "Asia/Shanghai"
        self.account.save()
        before = datetime(2026, 11, 28, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
        after = before + timedelta(minutes=1)  # 00:00 the next day
        key = (self.account.pk, self.account.time_zone, self.sender.pk, "")
        counters.add(
            [counters.Hit(*key, before, "delivered"), counters.Hit(*key, after, "delivered", count=2)]
        )
        days = dict(DailyCounter.objects.values_list("day", "delivered"))
        self.assertEqual(days, {date(2026, 11, 28): 1, date(2026, 11, 29): 2})
