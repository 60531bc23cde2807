"""Webhooks end to end with a receiving HTTP server on loopback: signed CloudEvents that verify, filters,
retries on the schedule with the same event id, giving up after a day, an endpoint disabled after a day of
failures with its owners told, and internal targets refused when private targets are not allowed."""

import json
from datetime import timedelta

from django.core import mail
from django.test import TestCase, override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from accounts.crypto import encrypt
from sending.delivery.worker import deliver_due
from sending.models import Message
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from sending.services.tags import tag_create
from stats import webhooks
from stats.models import WebhookEndpoint, WebhookEvent
from tests.base import People
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink
from tests.stats.receiver import Receiver

SECRET = "whsec-test-secret"


@override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True)
class WebhookTest(People, TestCase):
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
        tag_create(account=cls.account, name="news", actor=SYSTEM)

    def setUp(self):
        self.server = Receiver().__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)

    def endpoint(self, **fields) -> WebhookEndpoint:
        values = {
            "url": self.server.url,
            "event_types": ["delivered"],
        }
        values.update(fields)
        return WebhookEndpoint.objects.create(
            account=self.account, secret_encrypted=encrypt(SECRET), **values
        )

    def send(self, **options) -> None:
        tag_name = options.pop("tag_name", "")
        content = Content(subject="s", text_body="t", headers={"X-User-Order": "1"}, **options)
        mail = Mail(
            account=self.account, sender=self.sender, to="ann@dest.test", content=content, tag_name=tag_name
        )
        message_enqueue(mail)
        with (
            SmtpSink() as sink,
            override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
        ):
            deliver_due(max_seconds=20)

    def test_a_delivery_arrives_as_a_signed_cloudevent(self):
        self.endpoint()
        self.send()
        self.assertEqual(webhooks.deliver_due(), 1)  # handed to a task (run inline here)
        [(headers, body)] = self.server.received
        self.assertTrue(webhooks.verify(SECRET, headers["X-DirectMail-Signature"], body))
        self.assertFalse(webhooks.verify("another secret", headers["X-DirectMail-Signature"], body))
        event = json.loads(body)
        message = Message.objects.get()
        self.assertEqual(
            (event["specversion"], event["type"], event["source"]), ("1.0", "dm:Deliver:Succeed", "acs:dm")
        )
        self.assertEqual(event["id"], headers["X-DirectMail-Event-Id"])
        self.assertEqual(
            (event["data"]["rcpt"], event["data"]["msg_id"]), ("ann@dest.test", message.message_id)
        )
        self.assertEqual(event["data"]["env_id"], message.envelope.env_id)
        self.assertEqual(WebhookEvent.objects.get().status, "delivered")

    def test_filters_choose_the_events(self):
        self.endpoint(tag_name="news")
        self.endpoint(event_types=["failed"])
        self.send()  # untagged and delivered: neither endpoint wants it
        self.assertFalse(WebhookEvent.objects.exists())
        self.send(tag_name="news")
        self.assertEqual(WebhookEvent.objects.count(), 1)

    def test_retries_follow_the_schedule_with_the_same_id_then_give_up(self):
        self.endpoint()
        self.send()
        self.server.replies = [500, 503]
        webhooks.deliver_due()
        event = WebhookEvent.objects.get()
        self.assertEqual((event.status, event.attempts), ("pending", 1))
        self.assertAlmostEqual((event.next_attempt_at - timezone.now()).total_seconds(), 60, delta=5)
        WebhookEvent.objects.update(next_attempt_at=timezone.now())
        webhooks.deliver_due()
        event.refresh_from_db()
        self.assertAlmostEqual((event.next_attempt_at - timezone.now()).total_seconds(), 300, delta=5)
        WebhookEvent.objects.update(next_attempt_at=timezone.now())
        webhooks.deliver_due()
        event.refresh_from_db()
        self.assertEqual((event.status, event.attempts), ("delivered", 3))
        ids = {headers["X-DirectMail-Event-Id"] for headers, _body in self.server.received}
        self.assertEqual(ids, {event.public_id})
        self.assertEqual(list(event.attempt_log.values_list("status_code", flat=True)), [200, 503, 500])

    def test_after_a_day_of_failures_the_event_fails_and_the_endpoint_is_disabled(self):
        endpoint = self.endpoint()
        self.send()
        self.server.replies = [500] * 5
        day_ago = timezone.now() - timedelta(hours=24)
        WebhookEvent.objects.update(created_at=day_ago, retry_from=day_ago)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=day_ago)
        with self.captureOnCommitCallbacks(execute=True):
            webhooks.deliver_due()
        self.assertEqual(WebhookEvent.objects.get().status, "failed")
        endpoint.refresh_from_db()
        self.assertFalse(endpoint.enabled)
        self.assertEqual(mail.outbox[-1].to, ["owner@example.com"])
        self.assertIn("disabled", mail.outbox[-1].subject)

    @override_settings(WEBHOOK_ALLOW_PRIVATE=False)
    def test_an_internal_target_is_never_called(self):
        self.endpoint()
        self.send()
        webhooks.deliver_due()
        self.assertEqual(self.server.received, [])
        attempt = WebhookEvent.objects.get().attempt_log.get()
        self.assertIn("refused", attempt.response)
