"""Asynchronous bounces (DSNs): per recipient, only `Action: failed` is final, quoted addresses ignored."""

import tempfile
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.audit import SYSTEM
from sending.delivery import worker
from sending.delivery.bounces import apply_dsn, parse_dsn
from sending.models import Message, MessageState, Suppression
from sending.services import messages as service
from sending.services.senders import sender_address_create
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain

SAMPLES = Path(__file__).parent / "dsn"


@override_settings(DELIVERY_MODE="capture")
class BounceTests(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        domain = verified_domain(cls.account)
        cls.sender = sender_address_create(
            account=cls.account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )

    def setUp(self):
        service.message_enqueue(
            service.Mail(
                account=self.account,
                sender=self.sender,
                to="bob@dest.test",
                content=service.Content(subject="Hello", text_body="x"),
            )
        )
        worker.deliver_due(max_seconds=10)
        self.message = Message.objects.get()
        self.assertEqual(self.message.state, MessageState.DELIVERED)

    def sample(self, name: str, **values) -> bytes:
        values = {
            "rcpt": "bob@dest.test",
            "message_id": self.message.message_id,
            "return_path": "x@y",
            **values,
        }
        return (SAMPLES / name).read_text().format(**values).replace("\n", "\r\n").encode()

    def test_a_failed_recipient_becomes_invalid_and_suppressed_and_quoted_addresses_are_left_alone(self):
        raw = self.sample("mixed.eml", return_path=worker.return_path(self.message))
        parsed, _report = parse_dsn(raw)
        self.assertEqual(
            [(r.recipient, r.action, r.status) for r in parsed],
            [("bob@dest.test", "failed", "5.1.1"), ("other@dest.test", "delayed", "4.4.1")],
        )
        result = apply_dsn(raw, envelope_to=worker.return_path(self.message))
        self.assertEqual(result.message, self.message)
        self.message.refresh_from_db()
        self.assertEqual(self.message.state, MessageState.INVALID)
        self.assertEqual(list(Suppression.objects.values_list("address", flat=True)), ["bob@dest.test"])
        self.assertIn("invalid", list(self.message.events.values_list("type", flat=True)))

    def test_the_message_id_of_the_returned_original_finds_the_message(self):
        result = apply_dsn(self.sample("mixed.eml"))
        self.assertEqual(result.message, self.message)
        self.assertEqual(Suppression.objects.count(), 1)

    def test_a_delayed_notice_is_not_final(self):
        result = apply_dsn(self.sample("delayed.eml"))
        self.message.refresh_from_db()
        self.assertEqual(self.message.state, MessageState.DELIVERED)
        self.assertFalse(Suppression.objects.exists())
        self.assertEqual(result.applied, [])
        self.assertIn("deferred", list(self.message.events.values_list("type", flat=True)))

    def test_a_forged_return_path_or_unknown_message_changes_nothing(self):
        raw = self.sample("mixed.eml", message_id="someone-else@example.org")
        result = apply_dsn(raw, envelope_to="bounce+1.forged@mail.acme.example")
        self.assertIsNone(result.message)
        self.assertFalse(Suppression.objects.exists())

    def test_the_management_command(self):
        tmp = Path(tempfile.mkdtemp()) / "bounce.eml"
        tmp.write_bytes(self.sample("mixed.eml"))
        out = StringIO()
        call_command("apply_bounce", str(tmp), stdout=out)
        self.assertIn("applied bob@dest.test: invalid", out.getvalue())
        self.assertIn("ignored other@dest.test", out.getvalue())
        tmp.write_bytes(self.sample("mixed.eml", message_id="nobody@example.org"))
        with self.assertRaisesMessage(CommandError, "no message of ours"):
            call_command("apply_bounce", str(tmp), stdout=StringIO())
        tmp.unlink()
