"""Access keys (secret shown once, encrypted at rest) and IP protection (client IP, allow-list, lock-out)."""

from django.test import SimpleTestCase, override_settings

from accounts.access import access_key_create, ip_filter_add
from accounts.audit import SYSTEM
from accounts.errors import ServiceError
from accounts.models import AccessKey, AuditEntry, IpFilter
from accounts.network import client_ip_from, ip_allowed
from tests.base import PASSWORD, AccountTestCase


class AccessKeyTests(AccountTestCase):
    def confirm_password(self, next_url):
        return self.client.post("/confirm-password/", {"password": PASSWORD, "next": next_url})

    def test_create_needs_the_password_and_shows_the_secret_once(self):
        self.client.force_login(self.admin)
        url = self.url("accounts:access_key_create")
        self.assertTrue(self.client.post(url, {"description": "orders"}).url.startswith("/confirm-password/"))
        self.assertFalse(AccessKey.objects.exists())
        self.confirm_password(url)
        response = self.client.post(url, {"description": "orders"})
        key = AccessKey.objects.get()
        secret = response.context["secret"]
        self.assertRegex(key.key_id, r"^LTAI[A-Za-z0-9]{20}$")
        self.assertEqual(len(secret), 30)
        self.assertContains(response, secret)
        self.assertEqual(key.secret(), secret)
        self.assertNotIn(secret, key.secret_encrypted)
        listing = self.client.get(self.url("accounts:access_keys"))
        self.assertContains(listing, key.key_id)
        self.assertNotContains(listing, secret)
        self.assertTrue(AuditEntry.objects.filter(action="access_key.create", actor_user=self.admin).exists())

    def test_disable_enable_delete(self):
        key, _secret = access_key_create(account=self.account, actor=SYSTEM)
        self.client.force_login(self.owner)
        self.client.post(self.url("accounts:access_key_toggle", key.key_id))
        key.refresh_from_db()
        self.assertFalse(key.is_active)
        self.client.post(self.url("accounts:access_key_toggle", key.key_id))
        key.refresh_from_db()
        self.assertTrue(key.is_active)
        self.assertContains(
            self.client.get(self.url("accounts:access_key_delete", key.key_id)), "Delete access key"
        )
        self.client.post(self.url("accounts:access_key_delete", key.key_id))
        self.assertFalse(AccessKey.objects.exists())

    def test_only_owners_and_admins_manage_keys(self):
        key, _secret = access_key_create(account=self.account, actor=SYSTEM)
        for person in (self.operator, self.reviewer, self.viewer):
            self.client.force_login(person)
            with self.subTest(person=person.email):
                self.assertEqual(self.client.get(self.url("accounts:access_keys")).status_code, 403)
                self.assertEqual(
                    self.client.post(self.url("accounts:access_key_toggle", key.key_id)).status_code, 403
                )
                self.assertEqual(self.client.post(self.url("accounts:access_key_create")).status_code, 403)


class IpProtectionTests(AccountTestCase):
    def test_an_empty_list_allows_everyone_and_entries_restrict(self):
        self.assertTrue(ip_allowed(self.account, "198.51.100.7"))
        ip_filter_add(account=self.account, network="203.0.113.0/24", actor=SYSTEM)
        ip_filter_add(account=self.account, network="2001:db8::/32", actor=SYSTEM)
        self.assertTrue(ip_allowed(self.account, "203.0.113.200"))
        self.assertTrue(ip_allowed(self.account, "::ffff:203.0.113.9"))
        self.assertTrue(ip_allowed(self.account, "2001:db8::1"))
        self.assertFalse(ip_allowed(self.account, "198.51.100.7"))
        self.assertFalse(ip_allowed(self.account, None))
        self.assertTrue(ip_allowed(self.other_account, "198.51.100.7"))

    def test_entries_are_normalized_and_bad_ones_refused(self):
        entry = ip_filter_add(account=self.account, network=" 203.0.113.77/24 ", actor=SYSTEM)
        self.assertEqual(entry.network, "203.0.113.0/24")
        with self.assertRaisesMessage(ServiceError, "already in the list"):
            ip_filter_add(account=self.account, network="203.0.113.0/24", actor=SYSTEM)
        for bad in ("", "300.1.1.1", "example.com", "10.0.0.0/33"):
            with self.subTest(network=bad), self.assertRaises(ServiceError):
                ip_filter_add(account=self.account, network=bad, actor=SYSTEM)

    def test_the_page_warns_before_locking_out_the_current_address(self):
        self.client.force_login(self.admin)  # the test client comes from 127.0.0.1
        url = self.url("accounts:ip_protection")
        response = self.client.post(url, {"network": "203.0.113.0/24"})
        self.assertContains(response, "your current address 127.0.0.1 is not in it")
        self.assertFalse(IpFilter.objects.exists())
        response = self.client.post(url, {"network": "203.0.113.0/24", "confirm_lockout": "on"})
        self.assertRedirects(response, url)
        self.assertFalse(self.client.get(url).context["current_allowed"])
        # Including the current address needs no confirmation.
        self.client.post(url, {"network": "127.0.0.1"})
        self.assertTrue(self.client.get(url).context["current_allowed"])
        self.assertEqual(IpFilter.objects.count(), 2)
        self.assertEqual(AuditEntry.objects.filter(action="ip_filter.add").count(), 2)

    def test_removing_the_last_entry_says_protection_turns_off(self):
        entry = ip_filter_add(account=self.account, network="203.0.113.0/24", actor=SYSTEM)
        self.client.force_login(self.owner)
        url = self.url("accounts:ip_filter_delete", entry.public_id)
        self.assertContains(self.client.get(url), "IP protection turns off")
        self.client.post(url)
        self.assertFalse(IpFilter.objects.exists())

    def test_the_switch_keeps_the_list_and_stops_applying_it(self):
        ip_filter_add(account=self.account, network="203.0.113.0/24", actor=SYSTEM)
        self.client.force_login(self.admin)
        url = self.url("accounts:ip_protection")
        self.assertContains(self.client.get(url), "Switch off (keep the list)")
        self.assertRedirects(self.client.post(url, {"protection": "off"}), url)
        self.account.refresh_from_db()
        self.assertFalse(self.account.ip_protection)
        self.assertTrue(ip_allowed(self.account, "198.51.100.7"))
        self.assertEqual(IpFilter.objects.count(), 1)
        self.client.post(url, {"protection": "on"})
        self.account.refresh_from_db()
        self.assertFalse(ip_allowed(self.account, "198.51.100.7"))
        self.assertEqual(AuditEntry.objects.filter(action="ip_filter.protection").count(), 2)


class ClientIpTests(SimpleTestCase):
    def test_without_trusted_proxies_forwarded_for_is_ignored(self):
        self.assertEqual(client_ip_from("198.51.100.7", "203.0.113.1"), "198.51.100.7")

    @override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "127.0.0.1"])
    def test_behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client(self):
        self.assertEqual(client_ip_from("10.1.2.3", "203.0.113.1"), "203.0.113.1")
        # A client cannot spoof its address with its own X-Forwarded-For: the proxy appends the real one.
        self.assertEqual(client_ip_from("10.1.2.3", "1.1.1.1, 203.0.113.1, 10.9.9.9"), "203.0.113.1")
        self.assertEqual(client_ip_from("127.0.0.1", ""), "127.0.0.1")
        self.assertEqual(client_ip_from("127.0.0.1", "garbage"), "127.0.0.1")
        # From an untrusted peer, the header means nothing.
        self.assertEqual(client_ip_from("198.51.100.7", "203.0.113.1"), "198.51.100.7")
