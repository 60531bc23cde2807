"""Every account's sandbox: a sending domain that needs no DNS, sends only into the Outbox whatever
DELIVERY_MODE says, counts like any mail, is never checked, failed or deleted, and stays out of limits,
first steps and the DirectMail API's listings."""

from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.errors import ServiceError
from accounts.onboarding import steps_for
from sending.delivery import worker
from sending.models import CapturedMessage, Domain, DomainStatus, Message, MessageState, SenderAddress
from sending.services import domains as domain_service
from sending.services import messages as service
from sending.services.sandbox import sandbox_sender
from tests.base import AccountTestCase


class SandboxTests(AccountTestCase):
    def sandbox(self) -> Domain:
        return Domain.objects.get(account=self.account, sandbox=True)

    def test_every_new_account_has_one_ready_to_send(self):
        domain = self.sandbox()
        self.assertTrue(domain.name.startswith("sandbox-") and domain.name.endswith(".directmail.test"))
        self.assertTrue(domain.can_send)
        sender = SenderAddress.objects.get(domain=domain)
        self.assertEqual((sender.address, sender.send_type), (f"test@{domain.name}", "trigger"))
        self.assertNotEqual(
            self.sandbox().name, Domain.objects.get(account=self.other_account, sandbox=True).name
        )
        # Not the account's own domain: the first steps, limits and usage leave it out.
        self.assertFalse(next(s for s in steps_for(self.account) if s["key"] == "domain")["done"])
        self.assertFalse(next(s for s in steps_for(self.account) if s["key"] == "sender")["done"])

    def test_it_is_never_checked_failed_or_deleted(self):
        domain = self.sandbox()
        self.assertEqual(domain_service.domain_check(domain=domain).status, DomainStatus.VERIFIED)
        Domain.objects.filter(pk=domain.pk).update(last_checked_at=None, verified_at=None)
        self.assertEqual(domain_service.domain_recheck_all(), 0)
        self.assertEqual(self.sandbox().status, DomainStatus.VERIFIED)
        SenderAddress.objects.filter(domain=domain).delete()
        with self.assertRaisesMessage(ServiceError, "cannot be deleted"):
            domain_service.domain_delete(domain=domain, actor=SYSTEM)
        self.assertIsNone(self.sandbox().deleted_at)
        # A deleted test@ address comes back when it is asked for.
        self.assertEqual(sandbox_sender(self.account).address, f"test@{domain.name}")

    @override_settings(DELIVERY_MODE="mx", MX_PORT=9)  # nothing listens on 9: mail that left would fail
    def test_its_mail_goes_into_the_outbox_whatever_the_delivery_mode_and_counts_as_delivered(self):
        sender = sandbox_sender(self.account)
        with self.captureOnCommitCallbacks(execute=False):
            service.message_enqueue(
                service.Mail(
                    account=self.account,
                    sender=sender,
                    to="bob@example.org",
                    content=service.Content(subject="Hi", text_body="x"),
                )
            )
        self.assertEqual(worker.deliver_due(max_seconds=20), {"delivered": 1})
        message = Message.objects.get()
        self.assertEqual(message.state, MessageState.DELIVERED)
        captured = CapturedMessage.objects.get(message=message)
        self.assertIn(b"Subject: Hi", captured.raw)
        self.assertEqual(message.delivery_attempts.get().mx_host, "outbox")
        self.assertTrue(next(s for s in steps_for(self.account) if s["key"] == "message")["done"])

    def test_the_overview_offers_a_test_message_that_lands_in_the_outbox(self):
        self.client.force_login(self.owner)
        overview = self.client.get(self.url("accounts:overview"))
        sender = sandbox_sender(self.account)
        link = self.url("sending:test_send") + f"?sender={sender.public_id}"
        self.assertContains(overview, link)
        self.assertContains(overview, "Add your domain")
        form = self.client.get(link)
        self.assertContains(form, "sandbox: Outbox only")
        self.assertEqual(form.context["form"]["to"].value(), self.owner.email)
        fields = {k: form.context["form"][k].value() for k in ("to", "subject", "html_body")}
        with self.captureOnCommitCallbacks(execute=True):
            sent = self.client.post(self.url("sending:test_send"), {"sender": sender.public_id, **fields})
        self.assertEqual(sent.status_code, 302)
        self.assertEqual(CapturedMessage.objects.filter(account=self.account).count(), 1)
        outbox = self.client.get(self.url("sending:outbox"))
        self.assertContains(outbox, fields["subject"])

    def test_the_console_marks_it(self):
        self.client.force_login(self.owner)
        domains = self.client.get(self.url("sending:domains"))
        self.assertContains(domains, "Sandbox")
        self.assertContains(domains, "No domain of your own yet")
        detail = self.client.get(self.url("sending:domain_detail", self.sandbox().public_id))
        self.assertContains(detail, "never leaves this server")
        self.assertNotContains(detail, "DNS records to publish")
        self.assertNotContains(detail, "Check now")
