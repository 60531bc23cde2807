"""Sender addresses (limits, monthly deletions, reply-to confirmation, SMTP password) and tags."""

import re
from datetime import timedelta

from django.contrib.auth.hashers import check_password
from django.core import mail
from django.utils import timezone

from accounts.audit import SYSTEM
from accounts.errors import ServiceError
from accounts.models import AuditEntry
from accounts.reauth import SESSION_KEY
from sending.models import Domain, DomainStatus, SenderAddress, Tag
from sending.services import senders, tags
from tests.base import PASSWORD, AccountTestCase
from tests.sending.helpers import verified_domain


class SenderAddressTests(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.domain = verified_domain(cls.account)

    def create(self, local_part="noreply", **kwargs):
        kwargs.setdefault("send_type", "trigger")
        return senders.sender_address_create(
            account=self.account, domain=self.domain, local_part=local_part, actor=SYSTEM, **kwargs
        )

    def reauth(self):
        session = self.client.session
        session[SESSION_KEY] = timezone.now().timestamp()
        session.save()

    def test_create_from_the_console(self):
        self.client.force_login(self.operator)
        response = self.client.post(
            self.url("sending:sender_create"),
            {"local_part": "News", "domain": self.domain.public_id, "send_type": "batch", "reply_to": ""},
        )
        sender = SenderAddress.objects.own().get()
        self.assertRedirects(response, self.url("sending:sender_detail", sender.public_id))
        self.assertEqual((sender.address, sender.send_type), ("news@mail.acme.example", "batch"))
        self.assertTrue(AuditEntry.objects.filter(action="sender.create", actor_user=self.operator).exists())

    def test_only_verified_domains_of_the_account(self):
        pending = Domain.objects.create(account=self.account, name="pending.acme.example")
        with self.assertRaisesMessage(ServiceError, "not verified"):
            senders.sender_address_create(
                account=self.account, domain=pending, local_part="a", send_type="trigger", actor=SYSTEM
            )
        theirs = verified_domain(self.other_account, "other.example")
        with self.assertRaisesMessage(ServiceError, "this account's domains"):
            senders.sender_address_create(
                account=self.account, domain=theirs, local_part="a", send_type="trigger", actor=SYSTEM
            )
        # The console form does not even offer them.
        self.client.force_login(self.operator)
        response = self.client.post(
            self.url("sending:sender_create"),
            {"local_part": "a", "domain": theirs.public_id, "send_type": "trigger"},
        )
        self.assertEqual(response.status_code, 400)
        self.assertFalse(SenderAddress.objects.own().exists())

    def test_bad_local_parts_and_duplicates(self):
        for bad in ("", "a b", ".a", "a..b", "a@b", "x" * 65):
            with self.subTest(local_part=bad), self.assertRaises(ServiceError):
                self.create(bad)
        self.create("same")
        with self.assertRaisesMessage(ServiceError, "already exists"):
            self.create("SAME")

    def test_the_eleventh_address_is_refused(self):
        for n in range(10):
            self.create(f"s{n}")
        self.client.force_login(self.operator)
        response = self.client.post(
            self.url("sending:sender_create"),
            {"local_part": "s10", "domain": self.domain.public_id, "send_type": "trigger"},
        )
        self.assertContains(response, "10 of 10 sender addresses", status_code=400)
        self.assertEqual(SenderAddress.objects.alive().own().count(), 10)

    def test_deletions_are_limited_per_calendar_month(self):
        addresses = [self.create(f"d{n}") for n in range(7)]
        for sender in addresses[:5]:  # personal account: 5 a month
            senders.sender_address_delete(sender=sender, actor=SYSTEM)
        with self.assertRaisesMessage(ServiceError, "5 of 5"):
            senders.sender_address_delete(sender=addresses[5], actor=SYSTEM)
        self.assertIsNone(SenderAddress.objects.get(pk=addresses[5].pk).deleted_at)
        self.client.force_login(self.viewer)
        self.assertContains(
            self.client.get(self.url("sending:sender_addresses")), "Deletions left this month: 0 of 5"
        )
        # Last month's deletions do not count.
        SenderAddress.objects.exclude(deleted_at=None).update(deleted_at=timezone.now() - timedelta(days=40))
        senders.sender_address_delete(sender=addresses[5], actor=SYSTEM)

    def test_reply_to_is_confirmed_by_a_mailed_link(self):
        with self.captureOnCommitCallbacks(execute=True):
            sender = self.create(reply_to="support@acme.example")
        self.assertFalse(sender.reply_to_verified)
        self.assertEqual(mail.outbox[0].to, ["support@acme.example"])
        path = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
        self.assertContains(self.client.get(path), "Reply-to address confirmed")
        sender.refresh_from_db()
        self.assertTrue(sender.reply_to_verified)
        # A link for an address that was changed since is refused.
        senders.sender_address_set_reply_to(sender=sender, reply_to="help@acme.example", actor=SYSTEM)
        self.assertContains(self.client.get(path), "has since changed", status_code=400)
        sender.refresh_from_db()
        self.assertFalse(sender.reply_to_verified)

    def test_smtp_password_is_shown_once_and_stored_hashed(self):
        sender = self.create()
        self.client.force_login(self.operator)
        url = self.url("sending:sender_smtp_password", sender.public_id)
        # First the password must be confirmed.
        self.assertTrue(self.client.get(url).url.startswith("/confirm-password/"))
        response = self.client.post("/confirm-password/", {"password": PASSWORD, "next": url})
        self.assertRedirects(response, url)
        response = self.client.post(url, {"password": ""})
        password = response.context["password"]
        self.assertContains(response, password)
        self.assertEqual(response["Cache-Control"], "no-store")
        sender.refresh_from_db()
        self.assertNotIn(password, sender.smtp_password)
        self.assertTrue(check_password(password, sender.smtp_password))
        self.assertNotContains(self.client.get(self.url("sending:sender_detail", sender.public_id)), password)
        # A chosen one must be long enough.
        response = self.client.post(url, {"password": "short"})
        self.assertContains(response, "at least 10 characters")

    def test_wrong_password_does_not_unlock_secrets(self):
        sender = self.create()
        self.client.force_login(self.operator)
        url = self.url("sending:sender_smtp_password", sender.public_id)
        response = self.client.post("/confirm-password/", {"password": "wrong", "next": url})
        self.assertContains(response, "That is not your password.")
        self.assertTrue(self.client.get(url).url.startswith("/confirm-password/"))

    def test_the_address_cannot_be_edited_and_viewers_cannot_change_anything(self):
        sender = self.create()
        self.client.force_login(self.viewer)
        page = self.client.get(self.url("sending:sender_detail", sender.public_id))
        self.assertContains(page, "cannot change")
        self.assertNotContains(page, 'name="reply_to"')
        self.assertEqual(
            self.client.post(
                self.url("sending:sender_detail", sender.public_id), {"reply_to": "x@y.example"}
            ).status_code,
            403,
        )
        self.assertEqual(
            self.client.post(self.url("sending:sender_delete", sender.public_id)).status_code, 403
        )

    def test_without_a_verified_domain_the_page_says_what_to_do(self):
        Domain.objects.update(status=DomainStatus.PENDING)
        self.client.force_login(self.operator)
        self.assertContains(self.client.get(self.url("sending:sender_addresses")), "needs a verified domain")


class TagTests(AccountTestCase):
    def test_create_edit_delete(self):
        self.client.force_login(self.operator)
        self.client.post(self.url("sending:tags"), {"name": "welcome-mail.v2", "description": "Sign-up flow"})
        tag = Tag.objects.get()
        self.assertEqual(tag.name, "welcome-mail.v2")
        self.client.post(self.url("sending:tag_edit", tag.public_id), {"name": "welcome", "description": "x"})
        tag.refresh_from_db()
        self.assertEqual(tag.name, "welcome")
        self.assertContains(
            self.client.get(self.url("sending:tag_delete", tag.public_id)), "Delete tag welcome?"
        )
        self.client.post(self.url("sending:tag_delete", tag.public_id))
        self.assertFalse(Tag.objects.exists())
        actions = set(AuditEntry.objects.filter(action__startswith="tag.").values_list("action", flat=True))
        self.assertEqual(actions, {"tag.create", "tag.update", "tag.delete"})

    def test_names_are_checked(self):
        for bad in ("", "with space", "ünïcode", "x" * 129, "semi;colon"):
            with self.subTest(name=bad), self.assertRaises(ServiceError):
                tags.tag_create(account=self.account, name=bad, actor=SYSTEM)
        tags.tag_create(account=self.account, name="x" * 128, actor=SYSTEM)
        with self.assertRaisesMessage(ServiceError, "already a tag"):
            tags.tag_create(account=self.account, name="x" * 128, actor=SYSTEM)

    def test_the_eleventh_tag_is_refused(self):
        for n in range(10):
            tags.tag_create(account=self.account, name=f"t{n}", actor=SYSTEM)
        self.client.force_login(self.operator)
        response = self.client.post(self.url("sending:tags"), {"name": "t10"})
        self.assertContains(response, "10 of 10 tags", status_code=400)
        self.assertEqual(Tag.objects.count(), 10)

    def test_viewers_read_only(self):
        tag = tags.tag_create(account=self.account, name="t", actor=SYSTEM)
        self.client.force_login(self.viewer)
        page = self.client.get(self.url("sending:tags"))
        self.assertContains(page, "t")
        self.assertNotContains(page, 'name="name"')
        self.client.post(self.url("sending:tags"), {"name": "sneaky"})
        self.assertEqual(Tag.objects.count(), 1)
        self.assertEqual(self.client.post(self.url("sending:tag_delete", tag.public_id)).status_code, 403)


class OverviewStepsTests(AccountTestCase):
    def test_steps_are_ticked_as_the_account_progresses(self):
        self.client.force_login(self.viewer)
        page = self.client.get(self.url("accounts:overview"))
        self.assertEqual([s["done"] for s in page.context["steps"]], [False, False, False])
        domain = verified_domain(self.account)
        senders.sender_address_create(
            account=self.account, domain=domain, local_part="hi", send_type="trigger", actor=SYSTEM
        )
        page = self.client.get(self.url("accounts:overview"))
        self.assertEqual([s["done"] for s in page.context["steps"]], [True, True, False])
        self.assertContains(page, self.url("sending:domains"))
