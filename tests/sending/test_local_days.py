"""The account's time zone decides its days: the daily quota rolls over at local midnight (Asia/Shanghai
is UTC+8, so at 16:00 UTC), and mail to a member who chose Chinese is written in Chinese."""

from datetime import UTC, datetime
from unittest import mock

from django.core import mail
from django.test import TestCase, override_settings

from accounts.audit import SYSTEM, Actor
from sending.services.messages import Content, Mail, QuotaExhausted, message_enqueue
from sending.services.senders import sender_address_create
from templates_app.services import template_create, version_submit
from tests.base import People
from tests.sending.helpers import verified_domain


@override_settings(DELIVERY_MODE="capture")
class LocalDayTest(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()
        cls.account.time_zone = "Asia/Shanghai"
        cls.account.daily_quota = 1
        cls.account.save()
        cls.sender = sender_address_create(
            account=cls.account, domain=verified_domain(cls.account), local_part="hi", send_type="trigger",
            actor=SYSTEM,
        )  # fmt: skip

    def send_at(self, moment: datetime) -> None:
        with (
            mock.patch("django.utils.timezone.now", return_value=moment),
            mock.patch("sending.services.messages.kick_delivery"),
        ):
            message_enqueue(
                Mail(
                    account=self.account,
                    sender=self.sender,
                    to="ann@dest.test",
                    content=Content(subject="s", text_body="t"),
                )
            )

    def test_the_daily_quota_rolls_over_at_local_midnight(self):
        self.send_at(datetime(2026, 11, 30, 15, 58, tzinfo=UTC))  # 23:58 in Shanghai
        with self.assertRaises(QuotaExhausted):
            self.send_at(datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC))  # still the same local day
        self.send_at(datetime(2026, 11, 30, 16, 0, 1, tzinfo=UTC))  # 00:00:01 on December 1st there

    def test_members_read_system_mail_in_the_language_they_chose(self):
        self.reviewer.language = "zh-hans"
        self.reviewer.save()
        template = template_create(
            account=self.account, name="welcome", subject="Hi", html_body="<p>Hi</p>", actor=SYSTEM
        )
        with self.captureOnCommitCallbacks(execute=True):
            version_submit(version=template.latest_version(), actor=Actor(user=self.owner))
        by_reader = {tuple(m.to): m for m in mail.outbox}
        chinese = by_reader[("reviewer@example.com",)]
        self.assertIn("等待您审核", chinese.subject)
        english = by_reader[("admin@example.com",)]
        self.assertIn("waits for your review", english.subject)
