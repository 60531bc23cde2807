"""Complaints: feedback-loop reports in RFC 5965's form and the providers' variants find their message,
suppress its recipient once, count and reach webhooks; other reports and strangers' mail change nothing.

The samples (tests/sending/arf) follow RFC 5965's appendix and the formats Yahoo (CFL), Microsoft (JMRP,
with and without a feedback-report part) and Mail.ru publish; the Mail.ru one also base64-encodes its
feedback-report part, which a robust reader must take."""

import base64
import tempfile
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.crypto import encrypt
from sending.complaints import apply_feedback, is_feedback_report, parse_report
from sending.delivery import mime, worker
from sending.models import EventType, Message, MessageState, Suppression, SuppressionReason, Tag
from sending.services import messages as service
from sending.services.senders import sender_address_create
from stats.models import DailyCounter, WebhookEndpoint, WebhookEvent
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain

SAMPLES = Path(__file__).parent / "arf"
MAILRU_FIELDS = (
    "Feedback-Type: abuse\r\nUser-Agent: Mail.Ru FBL/1.0\r\nVersion: 1\r\n"
    "Original-Rcpt-To: {rcpt}\r\nArrival-Date: Sat, 28 Nov 2026 13:00:00 +0300\r\nSource-IP: 192.0.2.25\r\n"
)


@override_settings(DELIVERY_MODE="capture")
class ComplaintTests(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.domain = verified_domain(cls.account)
        cls.sender = sender_address_create(
            account=cls.account, domain=cls.domain, local_part="noreply", send_type="batch", actor=SYSTEM
        )
        Tag.objects.create(account=cls.account, name="news")

    def setUp(self):
        self.endpoint = WebhookEndpoint.objects.create(
            account=self.account,
            url="http://127.0.0.1:9/hook",
            event_types=["complained"],
            secret_encrypted=encrypt("s"),
        )
        for rcpt in ("bob@dest.test", "carol@dest.test"):
            service.message_enqueue(
                service.Mail(
                    account=self.account,
                    sender=self.sender,
                    to=rcpt,
                    content=service.Content(subject="Hello", text_body="x"),
                    tag_name="news",
                )
            )
        worker.deliver_due(max_seconds=10)
        self.message = Message.objects.select_related("envelope__sender", "account").get(rcpt="bob@dest.test")
        self.assertEqual(self.message.state, MessageState.DELIVERED)

    def sample(self, name: str, **values) -> bytes:
        values = {
            "rcpt": self.message.rcpt,
            "to": f"fbl@{self.domain.name}",
            "message_id": self.message.message_id,
            "return_path": worker.return_path(self.message),
            "feedback_id": mime.feedback_id(self.message.envelope, self.message),
            **values,
        }
        fields = MAILRU_FIELDS.format(**values).encode()
        values["fields_base64"] = base64.encodebytes(fields).decode()
        return (SAMPLES / name).read_text().format(**values).replace("\n", "\r\n").encode()

    def assert_complained(self, result, message=None):
        message = message or self.message
        self.assertEqual(result.message, message)
        self.assertEqual(result.applied, [f"{message.rcpt}: complaint recorded, recipient suppressed"])
        entry = Suppression.objects.get(address=message.rcpt)
        self.assertEqual(
            (entry.reason, entry.scope, entry.message_id), (SuppressionReason.COMPLAINT, "", message.pk)
        )
        self.assertEqual(message.events.filter(type=EventType.COMPLAINED).count(), 1)
        message.refresh_from_db()
        self.assertEqual(message.state, MessageState.DELIVERED)  # a complaint is no change of state

    def test_rfc5965_sample_at_the_feedback_address(self):
        raw = self.sample("rfc5965.eml")
        report = parse_report(raw)
        assert report is not None
        self.assertEqual(report.feedback_type, "abuse")
        self.assertEqual(report.recipients, ["bob@dest.test"])
        self.assertEqual(report.fields["source_ip"], "192.0.2.1")
        self.assertEqual(report.reporter, "example.com")
        self.assert_complained(apply_feedback(raw, envelope_to=f"fbl@{self.domain.name}"))
        detail = self.message.events.get(type=EventType.COMPLAINED).detail
        self.assertEqual(detail["user_agent"], "SomeGenerator/1.0")
        self.assertEqual(detail["text"], "abuse report by SomeGenerator/1.0")

    def test_a_second_report_of_the_same_message_is_not_counted_again(self):
        raw = self.sample("rfc5965.eml")
        apply_feedback(raw)
        again = apply_feedback(raw)
        self.assertEqual(again.applied, ["bob@dest.test: complaint already recorded"])
        self.assertEqual(self.message.events.filter(type=EventType.COMPLAINED).count(), 1)
        self.assertEqual(sum(DailyCounter.objects.values_list("complaints", flat=True)), 1)

    def test_counted_per_day_and_sent_to_webhooks_as_dm_feedback_fblreport(self):
        self.assert_complained(apply_feedback(self.sample("rfc5965.eml")))
        self.assertEqual(sum(DailyCounter.objects.values_list("complaints", flat=True)), 1)
        hook = WebhookEvent.objects.get(endpoint=self.endpoint)
        self.assertEqual(hook.type, "dm:Feedback:FblReport")
        data = hook.payload["data"]
        self.assertEqual(
            (data["rcpt"], data["msg_id"], data["tag"]), ("bob@dest.test", self.message.message_id, "news")
        )
        self.assertEqual(
            (data["feedback_type"], data["user_agent"], data["source_ip"]),
            ("abuse", "SomeGenerator/1.0", "192.0.2.1"),
        )

    def test_yahoo_cfl_with_a_redacted_recipient_is_found_by_message_id(self):
        raw = self.sample("yahoo_cfl.eml")
        report = parse_report(raw)
        assert report is not None
        self.assertEqual((report.recipients, report.redacted), ([], True))
        self.assert_complained(apply_feedback(raw, envelope_to=f"fbl@{self.domain.name}"))
        self.assertTrue(self.message.events.get(type=EventType.COMPLAINED).detail["redacted"])

    def test_microsoft_jmrp_reads_the_original_recipient_header(self):
        raw = self.sample("microsoft_jmrp.eml")
        report = parse_report(raw)
        assert report is not None
        self.assertEqual(report.recipients, ["bob@dest.test"])
        self.assertEqual(report.reporter, "hotmail.com")
        self.assert_complained(apply_feedback(raw))

    def test_microsoft_jmrp_without_a_feedback_report_part_is_found_by_the_originals_return_path(self):
        raw = self.sample("microsoft_jmrp_legacy.eml")
        report = parse_report(raw)
        assert report is not None
        self.assertEqual(report.feedback_type, "abuse")
        self.assert_complained(apply_feedback(raw))

    def test_mailru_headers_only_found_by_feedback_id_and_recipient(self):
        carol = Message.objects.get(rcpt="carol@dest.test")
        raw = self.sample("mailru.eml", rcpt="carol@dest.test")
        report = parse_report(raw)
        assert report is not None
        self.assertEqual(report.fields["user_agent"], "Mail.Ru FBL/1.0")
        self.assertEqual(report.recipients, ["carol@dest.test"])
        self.assert_complained(apply_feedback(raw), message=carol)

    def test_a_report_to_the_messages_return_path(self):
        raw = self.sample("rfc5965.eml", message_id="not-ours@example.org", rcpt="redacted@example.com")
        self.assertTrue(is_feedback_report(raw))
        self.assert_complained(apply_feedback(raw, envelope_to=worker.return_path(self.message)))

    def test_not_spam_and_auth_failure_reports_change_nothing(self):
        for kind in ("not-spam", "auth-failure"):
            raw = self.sample("rfc5965.eml").replace(
                b"Feedback-Type: abuse", f"Feedback-Type: {kind}".encode()
            )
            result = apply_feedback(raw)
            self.assertEqual(result.applied, [])
            self.assertEqual(result.ignored, [f"bob@dest.test: a {kind} report, no complaint"])
        self.assertFalse(Suppression.objects.exists())
        self.assertFalse(self.message.events.filter(type=EventType.COMPLAINED).exists())

    def test_strangers_mail_a_dsn_and_another_accounts_feedback_address_change_nothing(self):
        raw = self.sample("rfc5965.eml", message_id="nobody@example.org", return_path="bounce+1.forged@x")
        self.assertIsNone(apply_feedback(raw).message)
        dsn = (Path(__file__).parent / "dsn" / "mixed.eml").read_bytes()
        self.assertFalse(is_feedback_report(dsn))
        self.assertEqual(apply_feedback(dsn).ignored, ["not a feedback report (ARF, RFC 5965)"])
        other = verified_domain(self.other_account, name="other.example")
        result = apply_feedback(self.sample("rfc5965.eml"), envelope_to=f"fbl@{other.name}")
        self.assertIsNone(result.message)
        self.assertFalse(Suppression.objects.exists())

    def test_the_management_command(self):
        tmp = Path(tempfile.mkdtemp()) / "report.eml"
        tmp.write_bytes(self.sample("yahoo_cfl.eml"))
        out = StringIO()
        call_command("apply_feedback", str(tmp), "--to", f"fbl@{self.domain.name}", stdout=out)
        self.assertIn("applied bob@dest.test: complaint recorded", out.getvalue())
        tmp.write_bytes(self.sample("yahoo_cfl.eml", message_id="nobody@example.org", feedback_id="x"))
        with self.assertRaisesMessage(CommandError, "no message of ours"):
            call_command("apply_feedback", str(tmp), stdout=StringIO())
        tmp.unlink()
