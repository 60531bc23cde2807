"""The console side of the delivery engine: test send, message log and detail, Outbox, suppression list."""

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.models import AuditEntry
from sending.models import CapturedMessage, Message, MessageState, Suppression
from sending.services import messages as service
from sending.services.senders import sender_address_create
from sending.services.suppressions import suppression_add
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain


@override_settings(DELIVERY_MODE="capture")
class ConsoleSendingTests(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.domain = verified_domain(cls.account)
        cls.sender = sender_address_create(
            account=cls.account, domain=cls.domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )

    def post_test_send(self, **overrides):
        data = {
            "sender": self.sender.public_id,
            "to": "bob@example.org, amy@example.org",
            "subject": "Hi",
            "html_body": "<p>Hello <script>alert(1)</script></p>",
            "text_body": "",
        }
        data.update(overrides)
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post(self.url("sending:test_send"), data)

    def test_personalized_mail_is_listed_and_found_by_the_subject_its_recipient_got(self):
        with self.captureOnCommitCallbacks(execute=True):
            service.message_enqueue(
                service.Mail(
                    account=self.account,
                    sender=self.sender,
                    to=["bob@example.org", "amy@example.org"],
                    content=service.Content(
                        subject="{UserName}, spring sale in {City}", text_body="x", templated=True
                    ),
                    variables={
                        "bob@example.org": {"UserName": "Bob", "City": "Berlin"},
                        "amy@example.org": {"UserName": "Amy", "City": "Paris"},
                    },
                )
            )
        self.client.force_login(self.operator)
        for name in ("sending:messages", "sending:outbox"):
            listing = self.client.get(self.url(name))
            self.assertContains(listing, "Bob, spring sale in Berlin")
            self.assertNotContains(listing, "{UserName}")
            found = self.client.get(self.url(name), {"q": "sale in Berlin"})
            self.assertContains(found, "bob@example.org")
            self.assertNotContains(found, "amy@example.org")
        message = Message.objects.get(rcpt="amy@example.org")
        self.assertContains(
            self.client.get(self.url("sending:message_detail", message.message_id)),
            "Amy, spring sale in Paris",
        )

    def test_a_test_send_is_delivered_to_the_outbox_and_listed(self):
        self.client.force_login(self.operator)
        response = self.post_test_send()
        self.assertEqual(response.status_code, 302)
        listing = self.client.get(response.url)
        self.assertContains(listing, "Accepted with EnvId")
        self.assertContains(listing, "bob@example.org")
        self.assertEqual(set(Message.objects.values_list("state", flat=True)), {MessageState.DELIVERED})
        message = Message.objects.get(rcpt="bob@example.org")

        detail = self.client.get(self.url("sending:message_detail", message.message_id))
        self.assertContains(detail, "captured in the outbox")
        outbox = self.client.get(self.url("sending:outbox"))
        self.assertContains(outbox, "amy@example.org")
        page = self.client.get(self.url("sending:outbox_detail", message.message_id))
        self.assertContains(page, 'sandbox=""')
        self.assertContains(page, "DKIM-Signature")
        frame = self.client.get(self.url("sending:outbox_html", message.message_id))
        self.assertEqual(frame["X-Frame-Options"], "SAMEORIGIN")
        self.assertIn("sandbox", frame["Content-Security-Policy"])
        self.assertEqual(CapturedMessage.objects.count(), 2)

    def test_the_log_filters(self):
        self.client.force_login(self.viewer)
        first = service.message_enqueue(
            service.Mail(
                account=self.account,
                sender=self.sender,
                to="a@example.org",
                content=service.Content(subject="One", text_body="x"),
            )
        )
        service.message_enqueue(
            service.Mail(
                account=self.account,
                sender=self.sender,
                to="b@example.org",
                content=service.Content(subject="Two", text_body="x"),
            )
        )
        page = self.client.get(self.url("sending:messages"), {"q": first.env_id})
        self.assertEqual([m.rcpt for m in page.context["page"]], ["a@example.org"])
        page = self.client.get(self.url("sending:messages"), {"q": "b@"})
        self.assertEqual([m.rcpt for m in page.context["page"]], ["b@example.org"])
        page = self.client.get(self.url("sending:messages"), {"state": "delivered"})
        self.assertEqual(list(page.context["page"]), [])

    def test_bad_input_is_a_form_error_and_sends_nothing(self):
        self.client.force_login(self.operator)
        response = self.post_test_send(to="not an address")
        self.assertContains(response, "is not a valid address", status_code=400)
        response = self.post_test_send(html_body="", text_body="")
        self.assertContains(response, "Write an HTML body", status_code=400)
        self.assertFalse(Message.objects.exists())

    def test_viewers_cannot_send(self):
        self.client.force_login(self.viewer)
        self.assertEqual(self.post_test_send().status_code, 403)
        self.assertNotContains(self.client.get(self.url("sending:messages")), self.url("sending:test_send"))


class SuppressionPageTests(AccountTestCase):
    def test_add_remove_and_audit(self):
        self.client.force_login(self.operator)
        self.client.post(self.url("sending:suppressions"), {"address": "Who@Example.org"})
        entry = Suppression.objects.get()
        self.assertEqual((entry.address, entry.reason), ("who@example.org", "manual"))
        response = self.client.post(self.url("sending:suppressions"), {"address": "who@example.org"})
        self.assertContains(response, "already on the list", status_code=400)
        url = self.url("sending:suppression_remove", entry.public_id)
        self.assertContains(self.client.get(url), "Send to who@example.org again?")
        self.client.post(url)
        self.assertFalse(Suppression.objects.exists())
        self.assertEqual(
            set(
                AuditEntry.objects.filter(action__startswith="suppression.").values_list("action", flat=True)
            ),
            {"suppression.add", "suppression.remove"},
        )

    def test_an_entry_with_an_end_date_stops_suppressing_after_it(self):
        self.client.force_login(self.operator)
        self.client.post(
            self.url("sending:suppressions"), {"address": "pause@example.org", "expires": "2026-01-31"}
        )
        entry = Suppression.objects.get()
        self.assertEqual(entry.expires_at.astimezone(ZoneInfo("Asia/Shanghai")).date(), date(2026, 1, 31))
        # Already past: mail to the address is accepted again.
        domain = verified_domain(self.account)
        sender = sender_address_create(
            account=self.account, domain=domain, local_part="n", send_type="trigger", actor=SYSTEM
        )
        result = service.message_enqueue(
            service.Mail(
                account=self.account,
                sender=sender,
                to="pause@example.org",
                content=service.Content(subject="s", text_body="t"),
            )
        )
        self.assertEqual((result.accepted, result.invalid), (1, 0))

    def test_import_counts_and_export_escapes_formulas(self):
        self.client.force_login(self.operator)
        upload = SimpleUploadedFile(
            "list.csv",
            b"email,name\na@example.org,A\nA@example.org,dup\nnot-an-address,x\n=cmd@example.org,evil\n",
        )
        response = self.client.post(self.url("sending:suppression_import"), {"file": upload}, follow=True)
        self.assertContains(response, "2 added, 1 already listed, 1 not valid")
        export = self.client.get(self.url("sending:suppression_export"))
        rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
        self.assertEqual(rows[0], ["address", "reason", "detail", "created_at"])
        self.assertIn(["'=cmd@example.org", "manual", "import"], [r[:3] for r in rows[1:]])

    def test_viewers_read_only_and_outsiders_never_see_entries(self):
        suppression_add(account=self.account, address="x@example.org", actor=SYSTEM)
        self.client.force_login(self.viewer)
        self.assertContains(self.client.get(self.url("sending:suppressions")), "x@example.org")
        self.client.post(self.url("sending:suppressions"), {"address": "y@example.org"})
        self.assertEqual(Suppression.objects.count(), 1)
        self.client.force_login(self.outsider)
        self.assertEqual(self.client.get(self.url("sending:suppression_export")).status_code, 404)


@override_settings(DELIVERY_MODE="capture")
class QuotaUsageTests(AccountTestCase):
    def test_settings_show_quota_use_and_the_overview_ticks_the_first_message(self):
        domain = verified_domain(self.account)
        sender = sender_address_create(
            account=self.account, domain=domain, local_part="n", send_type="trigger", actor=SYSTEM
        )
        with self.captureOnCommitCallbacks(execute=True):
            service.message_enqueue(
                service.Mail(
                    account=self.account,
                    sender=sender,
                    to="a@example.org,b@example.org",
                    content=service.Content(subject="s", text_body="t"),
                )
            )
        self.client.force_login(self.viewer)
        limits = {row.key: row for row in self.client.get(self.url("accounts:settings")).context["limits"]}
        self.assertEqual(limits["daily_quota"].used, 2)
        self.assertEqual(limits["monthly_quota"].used, 2)
        self.assertEqual(limits["free_daily_sends"].used, 2)
        steps = self.client.get(self.url("accounts:overview")).context["steps"]
        self.assertEqual([s["done"] for s in steps], [True, True, True])
