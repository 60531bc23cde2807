"""Domains: adding them, the records to publish, DNS checks against a real DNS server, status changes."""

from datetime import timedelta

from django.core import mail
from django.test import override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from accounts.errors import ServiceError
from accounts.models import AuditEntry
from sending import domain_records
from sending.models import CheckStatus, DkimKeyStatus, DnsRecordCheck, Domain, DomainStatus, RecordKind
from sending.services import domains as service
from tests.base import AccountTestCase
from tests.dnsserver import DnsServer, DnsServerMixin

SPF_INCLUDE = "spf.directmail.test"


@override_settings(SPF_INCLUDE=SPF_INCLUDE, BOUNCE_MX_HOST="mx.directmail.test")
class DomainCheckTests(DnsServerMixin, AccountTestCase):
    def setUp(self):
        super().setUp()
        self.domain = service.domain_create(account=self.account, name="mail.acme.example", actor=SYSTEM)

    def checks(self) -> dict[str, DnsRecordCheck]:
        return {c.kind: c for c in DnsRecordCheck.objects.filter(domain=self.domain)}

    def test_all_records_published_verifies_the_domain(self):
        self.dns.publish_domain(self.domain)
        domain = service.domain_check(domain=self.domain)
        self.assertEqual(domain.status, DomainStatus.VERIFIED)
        self.assertIsNotNone(domain.verified_at)
        self.assertEqual({c.status for c in self.checks().values()}, {CheckStatus.VERIFIED})
        self.assertTrue(
            AuditEntry.objects.filter(action="domain.status", target_id=domain.public_id).exists()
        )

    def test_nothing_published_leaves_it_pending_with_every_record_missing(self):
        domain = service.domain_check(domain=self.domain)
        self.assertEqual(domain.status, DomainStatus.PENDING)
        self.assertEqual({c.status for c in self.checks().values()}, {CheckStatus.MISSING})

    def test_optional_records_are_not_needed(self):
        self.dns.publish_domain(self.domain, skip=(RecordKind.DMARC, RecordKind.MX))
        self.assertEqual(service.domain_check(domain=self.domain).status, DomainStatus.VERIFIED)
        self.assertEqual(self.checks()[RecordKind.MX].status, CheckStatus.MISSING)

    def test_a_wrong_dkim_key_is_a_mismatch_showing_what_was_found(self):
        self.dns.publish_domain(self.domain, skip=(RecordKind.DKIM,))
        key = self.domain.active_dkim_key()
        self.dns.add(
            key.record_name, "TXT", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAold"
        )
        domain = service.domain_check(domain=self.domain)
        self.assertEqual(domain.status, DomainStatus.PENDING)
        dkim = self.checks()[RecordKind.DKIM]
        self.assertEqual(dkim.status, CheckStatus.MISMATCH)
        self.assertIn("p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAold", dkim.found)

    def test_an_existing_spf_record_gets_a_merged_suggestion(self):
        self.dns.publish_domain(self.domain, skip=(RecordKind.SPF,))
        self.dns.add("mail.acme.example", "TXT", "v=spf1 include:_spf.mailer.example ~all")
        service.domain_check(domain=self.domain)
        spf = self.checks()[RecordKind.SPF]
        self.assertEqual(spf.status, CheckStatus.MISMATCH)
        self.assertEqual(spf.suggested, f"v=spf1 include:_spf.mailer.example include:{SPF_INCLUDE} ~all")
        # Publishing the merged record verifies it.
        self.dns.set("mail.acme.example", "TXT", spf.suggested)
        self.assertEqual(service.domain_check(domain=self.domain).status, DomainStatus.VERIFIED)

    def test_two_spf_records_are_reported(self):
        self.dns.publish_domain(self.domain)
        self.dns.add("mail.acme.example", "TXT", "v=spf1 mx -all")
        service.domain_check(domain=self.domain)
        spf = self.checks()[RecordKind.SPF]
        self.assertEqual(spf.status, CheckStatus.MISMATCH)
        self.assertIn("several SPF records", spf.error)

    def test_dmarc_of_the_organizational_domain_counts(self):
        self.dns.publish_domain(self.domain, skip=(RecordKind.DMARC,))
        self.dns.add("_dmarc.acme.example", "TXT", "v=DMARC1; p=reject")
        service.domain_check(domain=self.domain)
        dmarc = self.checks()[RecordKind.DMARC]
        self.assertEqual(dmarc.status, CheckStatus.VERIFIED)
        self.assertEqual(dmarc.found, "v=DMARC1; p=reject")
        self.assertIn("_dmarc.acme.example", dmarc.error)

    def test_a_record_that_disappears_makes_a_verified_domain_failing_and_mails_the_owners(self):
        self.dns.publish_domain(self.domain)
        service.domain_check(domain=self.domain)
        self.dns.remove(f"{domain_records.OWNERSHIP_PREFIX}.mail.acme.example")
        # Checked a minute ago: the daily recheck leaves it alone (a fresh install's first run of it, too).
        self.assertEqual(service.domain_recheck_all(), 0)
        yesterday = timezone.now() - timedelta(hours=21)
        Domain.objects.filter(pk=self.domain.pk).update(last_checked_at=yesterday, verified_at=yesterday)
        with self.captureOnCommitCallbacks(execute=True):
            domain = service.domain_recheck_all() and Domain.objects.get(pk=self.domain.pk)
        self.assertEqual(domain.status, DomainStatus.FAILING)
        self.assertFalse(domain.can_send)
        self.assertIn("Ownership", domain.failing_reason)
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(set(mail.outbox[0].to), {"owner@example.com", "admin@example.com"})
        self.assertIn("mail.acme.example", mail.outbox[0].subject)
        # Put back: verified again.
        self.dns.publish_domain(
            self.domain, skip=(RecordKind.SPF, RecordKind.DKIM, RecordKind.DMARC, RecordKind.MX)
        )
        self.assertEqual(service.domain_check(domain=domain).status, DomainStatus.VERIFIED)

    def test_a_temporary_dns_failure_never_fails_a_verified_domain(self):
        self.dns.publish_domain(self.domain)
        service.domain_check(domain=self.domain)
        self.dns.servfail("mail.acme.example")
        domain = service.domain_check(domain=self.domain)
        self.assertEqual(domain.status, DomainStatus.VERIFIED)
        self.assertEqual(self.checks()[RecordKind.SPF].status, CheckStatus.ERROR)
        self.assertEqual(mail.outbox, [])

    def test_nxdomain_is_missing(self):
        domain = service.domain_create(account=self.account, name="nowhere.acme.example", actor=SYSTEM)
        service.domain_check(domain=domain)
        spf = DnsRecordCheck.objects.get(domain=domain, kind=RecordKind.SPF)
        self.assertEqual(spf.status, CheckStatus.MISSING)

    def test_dkim_rotation_switches_signing_once_the_new_record_verifies(self):
        self.dns.publish_domain(self.domain)
        service.domain_check(domain=self.domain)
        old = self.domain.active_dkim_key()
        new = service.dkim_rotate(domain=self.domain, actor=SYSTEM)
        with self.assertRaises(ServiceError):
            service.dkim_rotate(domain=self.domain, actor=SYSTEM)  # one rotation at a time
        self.assertNotEqual(new.selector, old.selector)
        service.domain_check(domain=self.domain)  # new record not published yet
        self.assertEqual(self.domain.active_dkim_key(), old)

        self.dns.add(new.record_name, "TXT", new.record_value)
        service.domain_check(domain=self.domain)
        old.refresh_from_db()
        self.assertEqual(self.domain.active_dkim_key(), new)
        self.assertEqual(old.status, DkimKeyStatus.RETIRING)
        # Both records stay on the wizard until the old one is retired.
        names = [s.name for s in domain_records.records_to_publish(self.domain) if s.kind == RecordKind.DKIM]
        self.assertEqual(names, [old.record_name, new.record_name])
        service.dkim_retire(key=old, actor=SYSTEM)
        names = [s.name for s in domain_records.records_to_publish(self.domain) if s.kind == RecordKind.DKIM]
        self.assertEqual(names, [new.record_name])

    def test_the_private_key_is_encrypted_at_rest_and_2048_bits(self):
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from accounts.crypto import decrypt

        key = self.domain.active_dkim_key()
        self.assertNotIn("PRIVATE KEY", key.private_key_encrypted)
        private = load_pem_private_key(decrypt(key.private_key_encrypted).encode(), password=None)
        self.assertEqual(private.key_size, 2048)


class DomainCreateTests(AccountTestCase):
    def test_names_are_normalized_to_a_labels(self):
        domain = service.domain_create(account=self.account, name=" Mail.Bücher.Example. ", actor=SYSTEM)
        self.assertEqual(domain.name, "mail.xn--bcher-kva.example")
        self.assertEqual(domain.unicode_name, "mail.bücher.example")

    def test_bad_names_are_refused(self):
        for bad in (
            "",
            "example",
            "-bad.example",
            "a..b.example",
            "user@example.com",
            "com.cn",
            "1.2.3.4",
            "x" * 64 + ".com",
        ):
            with self.subTest(name=bad), self.assertRaises(ServiceError):
                service.domain_create(account=self.account, name=bad, actor=SYSTEM)
        self.assertFalse(Domain.objects.own().exists())

    def test_a_domain_verified_by_another_account_cannot_be_added(self):
        theirs = service.domain_create(account=self.other_account, name="shared.example", actor=SYSTEM)
        service.domain_create(account=self.account, name="shared.example", actor=SYSTEM)  # unverified: fine
        Domain.objects.filter(pk=theirs.pk).update(status=DomainStatus.VERIFIED)
        Domain.objects.own().filter(account=self.account).delete()
        with self.assertRaisesMessage(ServiceError, "verified by another account"):
            service.domain_create(account=self.account, name="shared.example", actor=SYSTEM)

    def test_the_sixth_domain_is_refused_with_the_limit_named(self):
        for n in range(5):
            service.domain_create(account=self.account, name=f"d{n}.acme.example", actor=SYSTEM)
        self.client.force_login(self.admin)
        response = self.client.post(self.url("sending:domain_create"), {"name": "d5.acme.example"})
        self.assertContains(response, "This account has 5 of 5 sending domains", status_code=400)
        self.assertEqual(Domain.objects.own().filter(account=self.account).count(), 5)

    def test_console_add_shows_the_wizard_with_every_record(self):
        self.client.force_login(self.admin)
        response = self.client.post(
            self.url("sending:domain_create"), {"name": "mail.acme.example"}, follow=True
        )
        domain = Domain.objects.own().get()
        self.assertContains(response, f"directmail-verify={domain.ownership_token}")
        self.assertContains(response, domain.active_dkim_key().public_key)
        self.assertContains(response, "_dmarc.mail.acme.example")
        self.assertContains(response, "_directmail.mail")  # host relative to the zone acme.example
        self.assertTrue(AuditEntry.objects.filter(action="domain.create").exists())

    def test_check_now_runs_the_check_and_the_status_endpoint_reports_it(self):
        domain = service.domain_create(account=self.account, name="mail.acme.example", actor=SYSTEM)
        self.client.force_login(self.admin)
        with DnsServer(), self.captureOnCommitCallbacks(execute=True):
            self.client.post(self.url("sending:domain_check", domain.public_id))
        status = self.client.get(self.url("sending:domain_status", domain.public_id)).json()
        self.assertEqual((status["checking"], status["status"]), (False, "pending"))
        self.assertIsNotNone(status["last_checked_at"])

    def test_roles(self):
        domain = service.domain_create(account=self.account, name="mail.acme.example", actor=SYSTEM)
        self.client.force_login(self.operator)
        self.assertEqual(
            self.client.post(self.url("sending:domain_create"), {"name": "x.acme.example"}).status_code, 403
        )
        self.assertEqual(
            self.client.post(self.url("sending:domain_delete", domain.public_id)).status_code, 403
        )
        page = self.client.get(self.url("sending:domain_detail", domain.public_id))
        self.assertContains(page, domain.name)
        self.assertNotContains(page, 'id="check-now"')

    def test_delete_needs_confirmation_and_no_sender_addresses(self):
        from sending.services.senders import sender_address_create

        domain = service.domain_create(account=self.account, name="mail.acme.example", actor=SYSTEM)
        Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)
        domain.refresh_from_db()
        sender = sender_address_create(
            account=self.account, domain=domain, local_part="a", send_type="trigger", actor=SYSTEM
        )
        self.client.force_login(self.owner)
        url = self.url("sending:domain_delete", domain.public_id)
        self.assertContains(self.client.get(url), "Delete mail.acme.example?")
        response = self.client.post(url, follow=True)
        self.assertContains(response, "still use mail.acme.example")
        self.assertTrue(Domain.objects.alive().filter(pk=domain.pk).exists())

        from sending.models import SenderAddress

        SenderAddress.objects.filter(pk=sender.pk).update(deleted_at=domain.created_at)
        self.client.post(url)
        self.assertFalse(Domain.objects.alive().filter(pk=domain.pk).exists())
        # The name can be added again.
        service.domain_create(account=self.account, name="mail.acme.example", actor=SYSTEM)
