"""Tenant isolation: every account-scoped URL answers 404 to someone who is not a member of the account.

The test walks the URL map, so a page added later is covered the day it lands. Object ids in the URL are real
ids of the victim account's objects: the outsider must not learn that they exist.
"""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.access import access_key_create, ip_filter_add
from accounts.audit import SYSTEM
from accounts.models import Invitation, IpFilter
from accounts.roles import Role
from sending.delivery.worker import deliver_due
from sending.lists.fields import clean_recipient
from sending.models import (
    BatchJob,
    Domain,
    EgressAddress,
    Message,
    SenderAddress,
    Suppression,
    Tag,
    ValidationJob,
)
from sending.services.egress import config_set_create, pool_create
from sending.services.lists import import_upload, list_create, recipient_add
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from sending.services.suppressions import suppression_add
from sending.services.tags import tag_create
from stats.models import WebhookEndpoint, WebhookEvent
from templates_app.services import template_create, version_submit
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain


def account_patterns(resolver=None, prefix=""):
    """(namespaced name, URL kwargs) of every pattern whose URL contains <account_id>."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from account_patterns(entry, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            converters = entry.pattern.converters
            if "account_id" in converters:
                yield prefix + entry.name, list(converters)


class OutsiderTests(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.invitation = Invitation.objects.create(
            account=cls.account, email="pending@example.com", role=Role.VIEWER, invited_by=cls.owner
        )
        cls.domain = verified_domain(cls.account)
        cls.sender = sender_address_create(
            account=cls.account, domain=cls.domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )
        cls.tag = tag_create(account=cls.account, name="welcome", actor=SYSTEM)
        cls.key, _secret = access_key_create(account=cls.account, actor=SYSTEM)
        cls.ip_entry = ip_filter_add(account=cls.account, network="203.0.113.0/24", actor=SYSTEM)
        cls.suppression = suppression_add(account=cls.account, address="gone@example.org", actor=SYSTEM)
        with override_settings(DELIVERY_MODE="capture"):
            message_enqueue(
                Mail(
                    account=cls.account,
                    sender=cls.sender,
                    to="bob@example.org",
                    content=Content(subject="s", text_body="t"),
                )
            )
            deliver_due(max_seconds=10)
        cls.message = Message.objects.get()
        cls.template = template_create(
            account=cls.account, name="welcome", subject="Hi", html_body="<p>Hi</p>", actor=SYSTEM
        )
        version_submit(version=cls.template.latest_version(), actor=SYSTEM)
        cls.recipient_list = list_create(account=cls.account, name="News", actor=SYSTEM)
        cls.recipient = recipient_add(
            recipient_list=cls.recipient_list, clean=clean_recipient("li@example.org", {}), actor=SYSTEM
        )
        cls.batch_job = BatchJob.objects.create(
            account=cls.account,
            name="News",
            template=cls.template,
            recipient_list=cls.recipient_list,
            sender=cls.sender,
        )
        cls.recipient_import = import_upload(
            recipient_list=cls.recipient_list,
            upload=SimpleUploadedFile("a.csv", b"email\nhan@example.org\n"),
            actor=SYSTEM,
        )
        cls.endpoint = WebhookEndpoint.objects.create(
            account=cls.account,
            url="https://hooks.example.org/",
            event_types=["delivered"],
            secret_encrypted="x",
        )
        cls.egress_address = EgressAddress.objects.create(
            address="127.0.0.2", helo="mta.example.test", host="h", account=cls.account
        )
        cls.ip_pool = pool_create(account=cls.account, name="p", addresses=[cls.egress_address], actor=SYSTEM)
        cls.config_set = config_set_create(account=cls.account, name="s", pool=cls.ip_pool, actor=SYSTEM)
        cls.webhook_event = WebhookEvent.objects.create(
            public_id="e" * 32, account=cls.account, endpoint=cls.endpoint, type="dm:Deliver:Fail",
            payload={}, status="failed",
        )  # fmt: skip
        cls.validation_job = ValidationJob.objects.create(
            account=cls.account, file_name="v.csv", state="completed"
        )

    def object_ids(self) -> dict[str, str]:
        """A real id of the victim account for every kind of id a URL may carry. Extend as apps add URLs."""
        return {
            "account_id": self.account.public_id,
            "member_id": self.membership(self.owner).public_id,
            "invitation_id": self.invitation.public_id,
            "domain_id": self.domain.public_id,
            "selector": self.domain.active_dkim_key().selector,
            "sender_id": self.sender.public_id,
            "tag_id": self.tag.public_id,
            "key_id": self.key.key_id,
            "entry_id": self.ip_entry.public_id,
            "suppression_id": self.suppression.public_id,
            "message_id": self.message.message_id,
            "template_id": self.template.public_id,
            "number": 1,
            "step": "approve",
            "list_id": self.recipient_list.public_id,
            "recipient_id": self.recipient.pk,
            "import_id": self.recipient_import.public_id,
            "job_id": self.batch_job.public_id,
            "endpoint_id": self.endpoint.public_id,
            "event_id": self.webhook_event.public_id,
            "resource_id": self.egress_address.resource_id,
            "pool_id": self.ip_pool.api_id,
            "set_id": self.config_set.api_id,
            "file_id": self.validation_job.file_id,
        }

    def test_every_account_url_is_404_for_an_outsider(self):
        self.client.force_login(self.outsider)
        ids = self.object_ids()
        patterns = list(account_patterns())
        self.assertGreaterEqual(len(patterns), 8)
        for name, kwargs in patterns:
            missing = [k for k in kwargs if k not in ids]
            self.assertFalse(missing, f"{name}: add a real id for {missing} to object_ids()")
            url = reverse(name, kwargs={k: ids[k] for k in kwargs})
            for method in ("get", "post"):
                with self.subTest(url=url, method=method):
                    response = getattr(self.client, method)(url)
                    self.assertEqual(response.status_code, 404)
        # Nothing was changed by the attempts.
        self.assertEqual(self.account.memberships.count(), 5)
        self.invitation.refresh_from_db()
        self.assertEqual(self.invitation.status, "pending")
        self.assertTrue(Domain.objects.alive().filter(pk=self.domain.pk).exists())
        self.assertTrue(SenderAddress.objects.alive().filter(pk=self.sender.pk).exists())
        self.assertTrue(Tag.objects.filter(pk=self.tag.pk).exists())
        self.key.refresh_from_db()
        self.assertTrue(self.key.is_active)
        self.assertTrue(IpFilter.objects.filter(pk=self.ip_entry.pk).exists())
        self.assertTrue(Suppression.objects.filter(pk=self.suppression.pk).exists())
        self.assertEqual(Message.objects.count(), 1)
        self.assertEqual(self.template.latest_version().status, "submitted")
        self.assertEqual(
            list(self.recipient_list.recipients.values_list("email", flat=True)), ["li@example.org"]
        )
        self.recipient_import.refresh_from_db()
        self.assertEqual(self.recipient_import.status, "uploaded")
        self.batch_job.refresh_from_db()
        self.assertEqual(self.batch_job.status, "draft")
        self.endpoint.refresh_from_db()
        self.assertTrue(self.endpoint.enabled)
        self.webhook_event.refresh_from_db()
        self.assertEqual((self.webhook_event.status, self.webhook_event.attempts), ("failed", 0))

    def test_anonymous_visitors_are_sent_to_log_in(self):
        ids = self.object_ids()
        for name, kwargs in account_patterns():
            url = reverse(name, kwargs={k: ids[k] for k in kwargs})
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 302)
                self.assertTrue(response.url.startswith(reverse("login")))

    def test_every_account_view_declares_its_permission(self):
        resolver = get_resolver()
        for name, _kwargs in account_patterns():
            kwargs = {k: 1 if k == "number" else "x" for k in _kwargs}
            view = resolver.resolve(reverse(name, kwargs=kwargs)).func
            with self.subTest(name=name):
                self.assertTrue(hasattr(view, "account_perm"), f"{name} is not wrapped in account_view()")

    def test_a_member_of_both_accounts_sees_each_only_through_its_own_url(self):
        self.client.force_login(self.outsider)
        page = self.client.get(reverse("accounts:overview", args=[self.other_account.public_id]))
        self.assertContains(page, "Other Co")
        self.assertNotContains(page, "Acme")


class ForbiddenPageTests(AccountTestCase):
    def test_insufficient_role_gets_a_clear_403_page(self):
        self.client.force_login(self.viewer)
        response = self.client.get(self.url("accounts:audit_log"))
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "Your role (Viewer) does not allow this.", status_code=403)
