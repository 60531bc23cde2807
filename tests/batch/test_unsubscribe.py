"""Unsubscribing from batch mail: the headers (DKIM-covered) and the visible link, the one-click POST
without cookies, a GET that changes nothing, forged tokens, the filter levels, and the next send skipping."""

import email
import re
from email.policy import default as default_policy
from unittest import mock

import dkim
from django.test import Client, TestCase, override_settings

from accounts.audit import SYSTEM
from sending import unsubscribe
from sending.delivery.worker import deliver_due
from sending.models import Message, MessageEvent, Suppression
from sending.services import batch as service
from sending.services.messages import Content, Mail, message_enqueue
from tests.base import People
from tests.batch.helpers import BatchSetup
from tests.smtpsink import SmtpSink


@override_settings(PUBLIC_BASE_URL="https://mail.example.net")
class UnsubscribeTest(People, BatchSetup, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def setUp(self):
        self.batch_setup(recipients=2)

    def send_batch(self, **fields) -> list:
        job = self.draft(**fields)
        with (
            mock.patch("sending.services.messages.kick_delivery"),
            self.captureOnCommitCallbacks(execute=True),
        ):
            service.job_confirm(job=job, actor=SYSTEM)
        with (
            SmtpSink() as sink,
            override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
        ):
            deliver_due(max_seconds=20)
        return sink.messages

    def test_headers_are_one_click_and_dkim_signed_with_a_visible_link(self):
        received = self.send_batch()[0]
        message = Message.objects.get(rcpt=received.rcpt_tos[0])
        url, mailto = unsubscribe.links(message)
        self.assertTrue(url.startswith("https://mail.example.net/unsubscribe/"))
        parsed = email.message_from_bytes(received.data, policy=default_policy)
        self.assertEqual(parsed["List-Unsubscribe"], f"<{url}>, <mailto:{mailto}?subject=unsubscribe>")
        self.assertEqual(parsed["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        signature = parsed["DKIM-Signature"].replace("\r\n", "").replace(" ", "")
        signed = re.search(r"h=([^;]+)", signature).group(1).lower().split(":")
        self.assertIn("list-unsubscribe", signed)
        self.assertIn("list-unsubscribe-post", signed)
        key = self.sender.domain.active_dkim_key()
        record = f"v=DKIM1; k=rsa; p={key.public_key}".encode()
        self.assertTrue(dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record))
        self.assertIn(url, parsed.get_body(("html",)).get_content())
        self.assertIn(url, parsed.get_body(("plain",)).get_content())

    def test_one_click_post_needs_no_cookie_does_not_redirect_and_is_idempotent(self):
        self.send_batch()
        message = Message.objects.get(rcpt="user0@dest.test")
        url = f"/unsubscribe/{unsubscribe.token_for(message)}/"
        client = Client(enforce_csrf_checks=True)  # as a mail provider would post: no cookie, no CSRF token
        page = client.get(url)
        self.assertContains(page, "Unsubscribe?")
        self.assertFalse(Suppression.objects.exists())  # looking changes nothing
        for _attempt in range(2):
            response = client.post(
                url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
            )
            self.assertEqual(response.status_code, 200)
            self.assertContains(response, "You are unsubscribed")
        entry = Suppression.objects.get()
        self.assertEqual(
            (entry.address, entry.scope, entry.reason),
            ("user0@dest.test", "@mail.acme.example", "unsubscribe"),
        )
        self.assertEqual(MessageEvent.objects.filter(type="unsubscribed").count(), 1)
        self.assertEqual(len(client.cookies), 0)

    def test_forged_or_altered_tokens_are_refused(self):
        self.send_batch()
        message = Message.objects.get(rcpt="user0@dest.test")
        other = Message.objects.get(rcpt="user1@dest.test")
        token = unsubscribe.token_for(message)
        altered = f"{other.pk}.{token.split('.')[1]}"
        for bad in (altered, f"{message.pk}.0000", "x.y", token + "0"):
            with self.subTest(token=bad):
                self.assertEqual(self.client.post(f"/unsubscribe/{bad}/").status_code, 400)
        self.assertFalse(Suppression.objects.exists())

    def test_the_level_decides_whose_mail_stops_and_the_next_send_skips_them(self):
        self.send_batch()
        unsubscribe.unsubscribe(Message.objects.get(rcpt="user0@dest.test"), how="test")
        job = self.draft(name="December")
        self.assertEqual(service.preflight(job).suppressed, 1)
        with (
            mock.patch("sending.services.messages.kick_delivery"),
            self.captureOnCommitCallbacks(execute=True),
        ):
            service.job_confirm(job=job, actor=SYSTEM)
        job.refresh_from_db()
        self.assertEqual((job.queued, job.skipped), (1, 1))
        # The domain level leaves the account's other domains alone; the account level stops everything.
        from sending.services.senders import sender_address_create
        from tests.sending.helpers import verified_domain

        other = sender_address_create(
            account=self.account, domain=verified_domain(self.account, "mail.other.example"),
            local_part="hi", send_type="trigger", actor=SYSTEM,
        )  # fmt: skip
        sent = message_enqueue(
            Mail(
                account=self.account,
                sender=other,
                to="user0@dest.test",
                content=Content(subject="s", text_body="t"),
            )
        )
        self.assertEqual((sent.accepted, sent.invalid), (1, 0))
        same_domain = message_enqueue(
            Mail(
                account=self.account,
                sender=self.trigger_sender,
                to="user0@dest.test",
                content=Content(subject="s", text_body="t"),
            )
        )
        self.assertEqual((same_domain.accepted, same_domain.invalid), (0, 1))
