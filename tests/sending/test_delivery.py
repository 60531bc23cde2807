"""The delivery engine end to end: enqueue, a worker pass, a real SMTP sink as the MX, a real DNS server.

Retries and bounces as RELIABILITY.md promises them; DKIM verified at the sink with dkimpy.
"""

import email
import re
import time
from datetime import timedelta
from email.policy import default as default_policy

import dkim
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from sending.delivery import worker
from sending.models import (
    CapturedMessage,
    DeliveryAttempt,
    Envelope,
    Message,
    MessageState,
    Suppression,
)
from sending.services import messages as service
from sending.services.senders import sender_address_create
from tests.base import AccountTestCase
from tests.dnsserver import DnsServer
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink, free_port

DEST = "dest.test"


class DeliveryTestMixin:
    """A verified sender on mail.acme.example; dest.test's MX is the sink on loopback."""

    def setUp(self):
        super().setUp()
        self.sink = SmtpSink().__enter__()
        self.addCleanup(self.sink.__exit__, None, None, None)
        self.dns = DnsServer().__enter__()
        self.addCleanup(self.dns.__exit__, None, None, None)
        self.dns.add(DEST, "MX", "10 mx.dest.test")
        self.dns.add("mx.dest.test", "A", "127.0.0.1")
        settings_override = override_settings(DELIVERY_MODE="mx", MX_PORT=self.sink.port, SMTP_TIMEOUT=5)
        settings_override.enable()
        self.addCleanup(settings_override.disable)
        self.domain = verified_domain(self.account)
        self.sender = sender_address_create(
            account=self.account, domain=self.domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )

    def send(self, to=f"bob@{DEST}", **kwargs):
        fields = {"subject": "Hello", "html_body": "<p>Hi <b>Bob</b></p>", **kwargs}
        with self.captureOnCommitCallbacks(execute=False):
            content = service.Content(**{k: v for k, v in fields.items() if k != "tag_name"})
            mail = service.Mail(
                account=self.account, sender=self.sender, to=to, content=content,
                tag_name=fields.get("tag_name", ""),
            )  # fmt: skip
            return service.message_enqueue(mail)

    def run_worker(self):
        return worker.deliver_due(max_seconds=20)

    def make_due(self):
        Message.objects.filter(state=MessageState.DEFERRED).update(next_attempt_at=timezone.now())


class DeliveryTests(DeliveryTestMixin, AccountTestCase):
    def test_a_message_arrives_dkim_signed_with_its_headers(self):
        result = self.send(from_alias="Acme", subject="Ihre Bestellung ✓", text_body="Plain text")
        self.assertEqual((result.accepted, result.invalid), (1, 0))
        self.assertEqual(self.run_worker(), {"delivered": 1})
        [received] = self.sink.messages
        self.assertEqual(received.rcpt_tos, [f"bob@{DEST}"])
        self.assertTrue(received.mail_from.startswith("bounce+"))
        self.assertTrue(received.mail_from.endswith("@mail.acme.example"))

        key = self.domain.active_dkim_key()
        record = f"v=DKIM1; k=rsa; p={key.public_key}".encode()
        self.assertTrue(dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record))
        parsed = email.message_from_bytes(received.data, policy=default_policy)
        self.assertEqual(str(parsed["Subject"]), "Ihre Bestellung ✓")
        self.assertEqual(str(parsed["From"]), "Acme <noreply@mail.acme.example>")
        self.assertIn("s=" + key.selector, parsed["DKIM-Signature"])
        self.assertIn("rsa-sha256", parsed["DKIM-Signature"])

        message = Message.objects.get()
        self.assertEqual(message.state, MessageState.DELIVERED)
        self.assertEqual(parsed["Message-ID"].strip(), f"<{message.message_id}>")
        self.assertEqual(list(message.events.values_list("type", flat=True)), ["accepted", "delivered"])
        attempt = message.delivery_attempts.get()
        self.assertEqual((attempt.code, attempt.mx_host), (250, "mx.dest.test"))
        # The return path names this message, and cannot be forged.
        local = received.mail_from.rpartition("@")[0]
        self.assertEqual(worker.message_from_return_path(local), message)
        self.assertIsNone(worker.message_from_return_path(local[:-1] + "x"))

    def test_html_only_mail_gets_a_text_part(self):
        self.send(html_body="<h1>Welcome</h1><p>Line one<br>Line two</p>")
        self.run_worker()
        parsed = email.message_from_bytes(self.sink.messages[0].data, policy=default_policy)
        self.assertEqual(parsed.get_content_type(), "multipart/alternative")
        text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
        self.assertIn("Welcome", text)
        self.assertIn("Line one\nLine two", text)

    def test_mail_due_in_a_few_seconds_is_waited_for_not_left_to_the_next_schedule_tick(self):
        """A batch's paced tail: the running task delivers it when it comes due."""
        self.send(to=f"a@{DEST}")
        self.send(to=f"b@{DEST}")
        Message.objects.filter(rcpt=f"b@{DEST}").update(next_attempt_at=timezone.now() + timedelta(seconds=2))
        self.assertEqual(self.run_worker(), {"delivered": 2})
        # Due later than that: left to the schedule (the task does not sit on a worker for minutes).
        self.send(to=f"c@{DEST}")
        Message.objects.filter(rcpt=f"c@{DEST}").update(next_attempt_at=timezone.now() + timedelta(minutes=5))
        self.assertEqual(self.run_worker(), {})

    @override_settings(SMTP_TIMEOUT=1)
    def test_a_receiver_slow_to_answer_the_end_of_the_message_is_waited_for_not_sent_it_twice(self):
        """RFC 5321 gives the answer to the final dot 10 minutes; a message given up on there was often
        taken already, and a retry would be a second copy."""
        self.sink.handler.reply_delay = 3  # three times the step timeout
        self.send()
        self.assertEqual(self.run_worker(), {"delivered": 1})
        self.assertEqual(len(self.sink.messages), 1)

    def test_451_then_250_is_retried_after_the_backoff(self):
        self.sink.script(f"bob@{DEST}", "451 4.3.0 Try again later", "250 OK")
        self.send()
        self.assertEqual(self.run_worker(), {"deferred": 1})
        message = Message.objects.get()
        self.assertEqual(message.state, MessageState.DEFERRED)
        wait = message.next_attempt_at - timezone.now()
        self.assertTrue(timedelta(minutes=4) < wait <= timedelta(minutes=5))
        self.assertEqual(self.run_worker(), {})  # not due yet
        self.make_due()
        self.assertEqual(self.run_worker(), {"delivered": 1})
        self.assertEqual(list(message.delivery_attempts.values_list("code", flat=True)), [451, 250])
        self.assertEqual(len(self.sink.messages), 1)

    def test_backoff_doubles_up_to_an_hour(self):
        self.assertEqual(
            [worker.backoff(n).total_seconds() for n in range(1, 8)], [300, 600, 1200, 2400, 3600, 3600, 3600]
        )

    def test_550_5_1_1_is_invalid_suppressed_and_the_next_send_is_dropped(self):
        self.sink.script(f"gone@{DEST}", "550 5.1.1 No such user")
        self.send(to=f"gone@{DEST}")
        self.assertEqual(self.run_worker(), {"invalid": 1})
        self.assertEqual(DeliveryAttempt.objects.count(), 1)
        suppression = Suppression.objects.get()
        self.assertEqual((suppression.address, suppression.reason), (f"gone@{DEST}", "hard_bounce"))

        result = self.send(to=f"Gone@{DEST},bob@{DEST}")
        self.assertEqual((result.accepted, result.invalid), (1, 1))
        dropped = Message.objects.get(envelope__env_id=result.env_id, rcpt=f"Gone@{DEST}")
        self.assertEqual(dropped.state, MessageState.INVALID)
        self.assertEqual(list(dropped.events.values_list("type", flat=True)), ["accepted", "invalid"])
        self.run_worker()
        self.assertEqual([m.rcpt_tos for m in self.sink.messages], [[f"bob@{DEST}"]])

    def test_an_address_suppressed_after_acceptance_is_not_sent_to(self):
        self.send(to=f"late@{DEST},bob@{DEST}")
        Suppression.objects.create(account=self.account, address=f"late@{DEST}", reason="unsubscribe")
        Suppression.objects.create(account=self.other_account, address=f"bob@{DEST}", reason="manual")
        self.assertEqual(self.run_worker(), {"invalid": 1, "delivered": 1})
        self.assertEqual([m.rcpt_tos for m in self.sink.messages], [[f"bob@{DEST}"]])

    def test_552_fails_without_suppressing(self):
        self.sink.script(f"big@{DEST}", "552 5.3.4 Message too big", stage="data")
        self.send(to=f"big@{DEST}")
        self.assertEqual(self.run_worker(), {"failed": 1})
        self.assertFalse(Suppression.objects.exists())

    def test_connection_refused_defers(self):
        with override_settings(MX_PORT=free_port()):
            self.send()
            self.assertEqual(self.run_worker(), {"deferred": 1})
        self.assertIn("cannot talk to mx.dest.test", Message.objects.get().last_error)

    def test_dns_servfail_defers_and_nxdomain_is_invalid(self):
        self.dns.servfail("flaky.test")
        self.send(to="a@flaky.test")
        self.send(to="a@no-such-domain.test")
        self.assertEqual(self.run_worker(), {"deferred": 1, "invalid": 1})
        self.assertEqual(Message.objects.get(rcpt="a@flaky.test").state, MessageState.DEFERRED)
        self.assertEqual(Suppression.objects.get().address, "a@no-such-domain.test")

    def test_a_domain_without_mx_is_reached_at_its_own_address(self):
        self.dns.add("plain.test", "A", "127.0.0.1")
        self.send(to="a@plain.test")
        self.assertEqual(self.run_worker(), {"delivered": 1})

    @override_settings(DELIVERY_ALLOW_PRIVATE=False)
    def test_mail_servers_at_internal_addresses_are_never_connected_to(self):
        """A recipient domain whose MX or A records name loopback (or any internal address) gets no EHLO
        from us: the message fails, naming why. DELIVERY_ALLOW_PRIVATE lifts the rule (on-premise)."""
        self.dns.add("inside.test", "MX", "10 mx.inside.test")
        self.dns.add("inside.test", "MX", "20 mx2.inside.test")
        self.dns.add("mx.inside.test", "A", "127.0.0.1")
        self.dns.add("mx2.inside.test", "AAAA", "::ffff:127.0.0.1")
        self.dns.add("plain.test", "A", "127.0.0.2")
        self.send(to="a@inside.test")
        self.send(to="b@plain.test")
        self.send(to=f"c@{DEST}")
        self.assertEqual(self.run_worker(), {"failed": 3})
        self.assertEqual(self.sink.handler.greetings, [])
        message = Message.objects.get(rcpt="a@inside.test")
        self.assertIn(
            "internal addresses we do not deliver to: mx.inside.test (127.0.0.1)", message.last_error
        )
        self.assertFalse(Suppression.objects.exists())  # the address is not at fault
        with override_settings(DELIVERY_ALLOW_PRIVATE=True):
            self.send(to=f"d@{DEST}")
            self.assertEqual(self.run_worker(), {"delivered": 1})

    def test_delivery_tasks_lost_with_a_worker_stop_delivery_for_seconds_only(self):
        """Kick slots held by tasks that a dead cluster took with it: new mail waits no longer than the
        slots' short life, then the next accept starts delivery at once (tasks run inline here)."""

        def accept(to: str) -> None:
            with self.captureOnCommitCallbacks(execute=True):
                service.message_enqueue(
                    service.Mail(
                        account=self.account,
                        sender=self.sender,
                        to=to,
                        content=service.Content(subject="Hi", text_body="x"),
                    )
                )

        for slot in range(settings.Q_CLUSTER["workers"]):
            cache.add(f"delivery:kick:{slot}", 1, timeout=service.KICK_SLOT_SECONDS)
        accept(f"a@{DEST}")
        self.assertEqual(self.sink.messages, [])  # every slot taken: no task started
        time.sleep(service.KICK_SLOT_SECONDS + 1)
        accept(f"b@{DEST}")
        self.assertEqual(sorted(m.rcpt_tos[0] for m in self.sink.messages), [f"a@{DEST}", f"b@{DEST}"])

    def test_idn_domains_are_sent_in_a_label_form(self):
        self.dns.add("xn--bcher-kva.test", "MX", "10 mx.dest.test")
        self.send(to="leser@Bücher.test")
        self.assertEqual(self.run_worker(), {"delivered": 1})
        self.assertEqual(self.sink.messages[0].rcpt_tos, ["leser@xn--bcher-kva.test"])

    def test_a_utf8_mailbox_goes_out_with_smtputf8(self):
        self.send(to=f"用户@{DEST}", subject="你好")
        self.assertEqual(self.run_worker(), {"delivered": 1})
        [received] = self.sink.messages
        self.assertEqual(received.rcpt_tos, [f"用户@{DEST}"])
        self.assertIn(f"To: 用户@{DEST}".encode(), received.data)
        key = self.domain.active_dkim_key()
        record = f"v=DKIM1; k=rsa; p={key.public_key}".encode()
        self.assertTrue(dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record))

    def test_a_utf8_mailbox_fails_at_a_server_without_smtputf8(self):
        with SmtpSink(smtputf8=False) as plain, override_settings(MX_PORT=plain.port):
            self.send(to=f"用户@{DEST}")
            self.send(to=f"ascii@{DEST}")
            self.assertEqual(self.run_worker(), {"failed": 1, "delivered": 1})
        self.assertIn("SMTPUTF8", Message.objects.get(rcpt=f"用户@{DEST}").last_error)

    def test_messages_to_one_domain_share_one_connection(self):
        self.send(to=",".join(f"user{n}@{DEST}" for n in range(5)))
        self.assertEqual(self.run_worker(), {"delivered": 5})
        self.assertEqual(len({m.peer for m in self.sink.messages}), 1)

    def test_giving_up_after_the_retry_window(self):
        self.sink.script(f"bob@{DEST}", "451 4.3.0 Try again later")
        self.send()
        Message.objects.update(give_up_at=timezone.now() + timedelta(minutes=1))
        self.assertEqual(self.run_worker(), {"failed": 1})
        self.assertIn("gave up after 1 attempts", Message.objects.get().last_error)

    def test_a_lost_lease_is_taken_over_and_the_old_owner_cannot_record(self):
        self.send()
        token, [claimed] = worker.claim()
        # The worker dies here. Its lease runs out, and another worker claims the message.
        Message.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
        self.assertEqual(self.run_worker(), {"delivered": 1})
        message = Message.objects.get()
        self.assertEqual((message.state, message.lost_leases, message.attempts), ("delivered", 1, 2))
        # The first worker wakes up: its result is not recorded over the final one.
        worker._record(token, claimed, worker.Outcome(MessageState.FAILED, 554, "late"), 0, {})
        message.refresh_from_db()
        self.assertEqual(message.state, MessageState.DELIVERED)
        self.assertEqual(DeliveryAttempt.objects.count(), 1)

    def test_a_message_that_keeps_killing_its_worker_stops(self):
        self.send()
        Message.objects.update(lost_leases=3, state=MessageState.SENDING, lease_until=timezone.now())
        self.assertEqual(self.run_worker(), {"failed": 1})
        self.assertIn("its worker stopped 4 times", Message.objects.get().last_error)
        self.assertEqual(self.sink.messages, [])

    def test_a_failing_domain_holds_its_mail(self):
        self.send()
        self.domain.status = "failing"
        self.domain.save()
        self.assertEqual(self.run_worker(), {"deferred": 1})
        self.assertEqual(self.sink.messages, [])

    def test_relay_transport(self):
        self.send()
        with override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{self.sink.port}"):
            self.assertEqual(self.run_worker(), {"delivered": 1})
        self.assertEqual(self.sink.messages[0].rcpt_tos, [f"bob@{DEST}"])

    def test_capture_transport_keeps_mail_in_the_outbox(self):
        self.send()
        with override_settings(DELIVERY_MODE="capture"):
            self.assertEqual(self.run_worker(), {"delivered": 1})
        captured = CapturedMessage.objects.get()
        self.assertIn(b"Subject: Hello", captured.raw)
        self.assertEqual(self.sink.messages, [])


class InjectionTests(DeliveryTestMixin, AccountTestCase):
    def test_line_breaks_in_header_fields_are_refused(self):
        cases = {
            "subject": "Hi\r\nBcc: victim@evil.test",
            "from_alias": "A\nBcc: x@evil.test",
            "reply_to_alias": "R\rX: y",
        }
        for field, value in cases.items():
            with self.subTest(field=field), self.assertRaises(service.EnqueueError):
                self.send(**{field: value})
        for to in (f"bob@{DEST}\r\nRCPT TO:<x@evil.test>", f"bob@{DEST}\nx"):
            with self.subTest(to=to), self.assertRaises(service.EnqueueError):
                self.send(to=to)
        with self.assertRaises(service.EnqueueError):
            self.send(headers={"X-User-A": "v\r\nBcc: x@evil.test"})
        with self.assertRaises(service.EnqueueError):
            self.send(headers={"Bcc": "x@evil.test"})
        self.assertFalse(Message.objects.exists())

    def test_line_breaks_hidden_in_encoded_words_are_refused(self):
        for field, value in {
            "subject": "=?utf-8?q?Hi=0D=0ABcc:_x@evil.test?=",
            "from_alias": "=?x?b?QQ0K?=",
            "reply_to_alias": "=?utf-8?b?QQ0KQmNjOiB4QGV2aWw=?=",
        }.items():
            with self.subTest(field=field), self.assertRaises(service.EnqueueError):
                self.send(**{field: value})
        self.assertFalse(Message.objects.exists())
        # Harmless encoded words pass, and stay one header.
        self.send(subject="=?utf-8?q?caf=C3=A9?= and more")
        self.run_worker()
        parsed = email.message_from_bytes(self.sink.messages[0].data, policy=default_policy)
        self.assertEqual(len(parsed.get_all("Subject")), 1)

    def test_a_header_injected_past_validation_is_never_sent(self):
        """The last line of defence: the built header block is checked before it leaves."""
        self.send()
        Envelope.objects.update(subject="Hi\r\nBcc: x@evil.test")  # as if validation had a hole
        self.assertEqual(self.run_worker(), {"deferred": 1})
        self.assertEqual(self.sink.messages, [])
        self.assertIn("internal error: HeaderInjection", Message.objects.get().last_error)

    def test_an_encoded_word_that_slipped_through_stays_literal_text(self):
        self.send()
        Envelope.objects.update(subject="=?utf-8?q?Hi=0D=0ABcc:_x@evil.test?=")
        self.assertEqual(self.run_worker(), {"delivered": 1})
        parsed = email.message_from_bytes(self.sink.messages[0].data, policy=default_policy)
        self.assertEqual(str(parsed["Subject"]), "=?utf-8?q?Hi=0D=0ABcc:_x@evil.test?=")
        self.assertIsNone(parsed["Bcc"])

    def test_bare_line_breaks_and_smuggling_in_bodies_never_reach_the_sink(self):
        self.send(
            html_body="<p>one\nbare LF\rbare CR\r\n.\r\nsmuggled\n.\nagain</p>",
            text_body="a\nb\rc\n.\nMAIL FROM:<x@evil.test>\r\n.\r\nd",
        )
        self.run_worker()
        [received] = self.sink.messages
        self.assertEqual(received.rcpt_tos, [f"bob@{DEST}"])
        self.assertIsNone(re.search(rb"(?<!\r)\n|\r(?!\n)", received.data))
        parsed = email.message_from_bytes(received.data, policy=default_policy)
        self.assertIsNone(parsed["Bcc"])


@override_settings(DIRECTMAIL_DEFAULT_LIMITS={"daily_quota": 5, "max_domains": 5, "max_sender_addresses": 10})
class QuotaTests(DeliveryTestMixin, AccountTestCase):
    def test_the_daily_quota_is_a_clear_error_and_changes_nothing(self):
        self.account.daily_quota = 3
        self.account.save()
        self.send(to=f"a@{DEST},b@{DEST}")
        with self.assertRaisesMessage(service.QuotaExhausted, "2 of 3"):
            self.send(to=f"c@{DEST},d@{DEST}")
        self.assertEqual(Message.objects.count(), 2)
        self.send(to=f"c@{DEST}")
        self.assertEqual(service.quota_used(self.account, "day"), 3)

    def test_the_monthly_quota_counts_too(self):
        self.account.monthly_quota = 2
        self.account.save()
        self.send(to=f"a@{DEST},b@{DEST}")
        with self.assertRaisesMessage(service.QuotaExhausted, "month"):
            self.send(to=f"c@{DEST}")


class EnqueueValidationTests(DeliveryTestMixin, AccountTestCase):
    def test_refusals_name_the_problem(self):
        cases = [
            ({"to": "not-an-address"}, "InvalidToAddress"),
            ({"to": "用 户@dest.test"}, "InvalidToAddress"),
            ({"to": "a..b@dest.test"}, "InvalidToAddress"),
            ({"to": ",".join(f"u{n}@{DEST}" for n in range(101))}, "InvalidToAddress.Exceeded"),
            ({"subject": " "}, "InvalidSubject.Malformed"),
            ({"html_body": "", "text_body": ""}, "InvalidBody"),
            ({"from_alias": "x" * 16}, "InvalidFromAlias"),
            ({"tag_name": "nope"}, "InvalidTag.NotFound"),
        ]
        for kwargs, code in cases:
            with self.subTest(code=code), self.assertRaises(service.EnqueueError) as caught:
                self.send(**kwargs)
            self.assertEqual(caught.exception.code, code)
        self.assertFalse(Message.objects.exists())

    def test_too_many_recipients_are_refused_at_the_limit_not_after_checking_all(self):
        """16,000 addresses: refused as too many at the 101st, never reaching the invalid last one."""
        to = ",".join([*(f"u{n}@{DEST}" for n in range(16_000)), "not an address"])
        with self.assertRaises(service.EnqueueError) as caught:
            self.send(to=to)
        self.assertEqual(caught.exception.code, "InvalidToAddress.Exceeded")
        self.assertIn("got 16001", str(caught.exception))
        # Duplicates are not counted against the limit.
        self.send(to=",".join([f"same@{DEST}"] * 500 + [f"u{n}@{DEST}" for n in range(99)]))
        self.assertEqual(Message.objects.count(), 100)

    def test_sender_must_be_this_accounts_and_verified(self):
        with self.assertRaises(service.EnqueueError) as caught:
            service.message_enqueue(
                service.Mail(
                    account=self.other_account,
                    sender="noreply@mail.acme.example",
                    to=f"a@{DEST}",
                    content=service.Content(subject="x", text_body="x"),
                )
            )
        self.assertEqual(caught.exception.code, "InvalidMailAddress.NotFound")
        self.domain.status = "pending"
        self.domain.save()
        with self.assertRaises(service.EnqueueError) as caught:
            self.send()
        self.assertEqual(caught.exception.code, "InvalidDomain.NotVerified")


class StoreFailureTests(DeliveryTestMixin, TransactionTestCase):
    """A database failure while storing raises TemporaryFailure and leaves nothing behind."""

    def setUp(self):
        from tests.base import People

        People.create_people.__func__(type(self))
        super().setUp()

    def test_a_failing_table_stores_nothing_then_a_retry_succeeds(self):
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE sending_messageevent RENAME TO sending_messageevent_away")
        try:
            with self.assertRaises(service.TemporaryFailure):
                service.message_enqueue(
                    service.Mail(
                        account=self.account,
                        sender=self.sender,
                        to=f"a@{DEST}",
                        content=service.Content(subject="x", text_body="x"),
                    )
                )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE sending_messageevent_away RENAME TO sending_messageevent")
        self.assertFalse(Message.objects.exists())
        self.assertEqual(service.quota_used(self.account, "day"), 0)
        service.message_enqueue(
            service.Mail(
                account=self.account,
                sender=self.sender,
                to=f"a@{DEST}",
                content=service.Content(subject="x", text_body="x"),
            )
        )
        self.assertEqual(Message.objects.count(), 1)


class SuppressionLookupTests(AccountTestCase):
    def test_only_unexpired_entries_of_the_account_count_in_any_case(self):
        for address, expires in (
            ("gone@example.org", None),
            ("later@example.org", timezone.now() + timedelta(days=1)),
            ("past@example.org", timezone.now() - timedelta(seconds=1)),
        ):
            Suppression.objects.create(
                account=self.account, address=address, reason="manual", expires_at=expires
            )
        Suppression.objects.create(account=self.other_account, address="theirs@example.org", reason="manual")
        found = service.suppressed_among(
            self.account.pk,
            [
                "Gone@Example.org",
                "later@example.org",
                "past@example.org",
                "theirs@example.org",
                "new@example.org",
            ],
        )
        self.assertEqual(found, {"gone@example.org", "later@example.org"})
        self.assertEqual(service.suppressed_among(self.account.pk, []), set())
