"""Message content is kept MESSAGE_CONTENT_RETENTION_DAYS: then bodies and Outbox copies go, the log stays,
and mail still on its way keeps its content whatever its age."""

from datetime import timedelta
from unittest import mock

from django.test import TestCase, override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from sending.delivery.worker import deliver_due
from sending.models import CapturedMessage, Envelope, Message
from sending.retention import purge_content
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from tests.base import People
from tests.sending.helpers import verified_domain


@override_settings(DELIVERY_MODE="capture", MESSAGE_CONTENT_RETENTION_DAYS=30)
class RetentionTest(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()
        cls.sender = sender_address_create(
            account=cls.account, domain=verified_domain(cls.account), local_part="hi", send_type="trigger",
            actor=SYSTEM,
        )  # fmt: skip

    def send(self, to: str, age: timedelta, deliver: bool = True) -> Envelope:
        with mock.patch("sending.services.messages.kick_delivery"):
            enqueued = message_enqueue(
                Mail(
                    account=self.account,
                    sender=self.sender,
                    to=to,
                    content=Content(subject="Receipt", html_body="<p>secret</p>"),
                )
            )
        envelope = Envelope.objects.get(env_id=enqueued.env_id)
        if deliver:
            deliver_due(max_seconds=10)
        at = timezone.now() - age
        Envelope.objects.filter(pk=envelope.pk).update(created_at=at)
        CapturedMessage.objects.filter(message__envelope=envelope).update(created_at=at)
        return envelope

    def test_old_content_goes_and_the_log_stays(self):
        old = self.send("old@dest.test", timedelta(days=31))
        recent = self.send("new@dest.test", timedelta(days=29))
        waiting = self.send("later@dest.test", timedelta(days=40), deliver=False)
        self.assertEqual(purge_content(), {"envelopes": 1, "captured": 1})
        old.refresh_from_db()
        self.assertEqual((old.html_body, old.subject), ("", "Receipt"))
        self.assertIsNotNone(old.content_purged_at)
        self.assertEqual(Message.objects.get(envelope=old).state, "delivered")
        recent.refresh_from_db()
        waiting.refresh_from_db()
        self.assertEqual((recent.html_body, waiting.html_body), ("<p>secret</p>", "<p>secret</p>"))
        self.assertFalse(CapturedMessage.objects.filter(message__envelope=old).exists())
        self.client.force_login(self.owner)
        message = Message.objects.get(envelope=old)
        page = self.client.get(f"/a/{self.account.public_id}/messages/{message.message_id}/")
        self.assertContains(page, "after the retention period")
        self.assertEqual(purge_content(), {"envelopes": 0, "captured": 0})  # once

    @override_settings(MESSAGE_CONTENT_RETENTION_DAYS=0)
    def test_zero_keeps_everything(self):
        self.send("old@dest.test", timedelta(days=400))
        self.assertEqual(purge_content(), {"envelopes": 0, "captured": 0})
