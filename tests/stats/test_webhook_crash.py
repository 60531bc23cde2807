"""An event survives a worker crash: the webhook event is a row written with the delivery result, and a
worker SIGKILLed while its POST waits for an answer leaves the event pending; when its claim runs out,
another worker sends it again with the same id (the receiver deduplicates on it)."""

import signal
from datetime import timedelta
from unittest import mock

from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from accounts.crypto import encrypt
from sending.delivery.worker import deliver_due as deliver_mail
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from stats import webhooks
from stats.models import WebhookEndpoint, WebhookEvent
from tests.base import People
from tests.processes import shell_child
from tests.sending.helpers import verified_domain
from tests.stats.receiver import Receiver

ATTEMPT = (
    "from stats.models import WebhookEvent; from stats.webhooks import deliver_event; "
    "event = WebhookEvent.objects.get(); deliver_event(event.pk, event.next_attempt_at)"
)


@override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True, DELIVERY_MODE="capture")
class WebhookCrashTests(People, TransactionTestCase):
    def setUp(self):
        self.create_people()
        self.sender = sender_address_create(
            account=self.account, domain=verified_domain(self.account), local_part="hi", send_type="trigger",
            actor=SYSTEM,
        )  # fmt: skip
        self.receiver = Receiver().__enter__()
        self.addCleanup(self.receiver.__exit__, None, None, None)
        WebhookEndpoint.objects.create(
            account=self.account, url=self.receiver.url, event_types=["delivered"],
            secret_encrypted=encrypt("s"),
        )  # fmt: skip

    def send(self, to: str) -> None:
        # Tasks run inline in the tests; in production the webhook kick waits in the broker for a worker,
        # which is what the tests below play: the kick is left unrun.
        with mock.patch("stats.webhooks.delivery.kick"):
            message_enqueue(
                Mail(
                    account=self.account,
                    sender=self.sender,
                    to=to,
                    content=Content(subject="s", text_body="t"),
                )
            )
            deliver_mail(max_seconds=10)

    def test_a_worker_killed_mid_post_leaves_the_event_to_be_sent_again_with_its_id(self):
        self.send("ann@dest.test")
        event = WebhookEvent.objects.get()  # committed with the delivery result
        self.assertEqual(event.status, "pending")

        self.receiver.hold()  # the POST arrives and waits for an answer that never comes
        process = shell_child(ATTEMPT, WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_ALLOW_HTTP="true")
        try:
            self.assertTrue(self.receiver.wait_for_request(), "the worker never reached the receiver")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        event.refresh_from_db()
        self.assertEqual((event.status, event.attempts), ("pending", 0))  # nothing was recorded
        self.assertEqual(webhooks.deliver_due(), 0)  # and the claim keeps others off for now

        # The claim runs out; the next run of the schedule hands the event to a healthy worker.
        self.receiver.let_go()
        WebhookEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        self.assertEqual(webhooks.deliver_due(), 1)
        event.refresh_from_db()
        self.assertEqual((event.status, event.attempts), ("delivered", 1))
        ids = [headers["X-DirectMail-Event-Id"] for headers, _body in self.receiver.received]
        self.assertEqual(ids, [event.public_id, event.public_id])

    def test_a_late_task_finds_its_claim_taken_and_does_nothing(self):
        self.send("bo@dest.test")
        event = WebhookEvent.objects.get()
        stale_claim = event.next_attempt_at
        WebhookEvent.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=5))  # claimed again
        self.assertIsNone(webhooks.deliver_event(event.pk, stale_claim))
        self.assertEqual(self.receiver.received, [])
