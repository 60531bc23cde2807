"""Account settings (name, time zone), limits as "used / limit", and the audit log page."""

from datetime import UTC, datetime

from django.conf import settings
from django.test import override_settings

from accounts import limits as limits_module
from accounts.audit import Actor, audit_record
from accounts.limits import account_limits, register_usage
from accounts.models import AuditEntry
from tests.base import AccountTestCase


class SettingsTests(AccountTestCase):
    def test_admin_renames_and_changes_time_zone_with_an_audit_entry(self):
        self.client.force_login(self.admin)
        response = self.client.post(
            self.url("accounts:settings"), {"name": "Acme Mail", "time_zone": "Europe/Berlin"}
        )
        self.assertRedirects(response, self.url("accounts:settings"))
        self.account.refresh_from_db()
        self.assertEqual((self.account.name, self.account.time_zone), ("Acme Mail", "Europe/Berlin"))
        entry = AuditEntry.objects.get(action="account.update")
        self.assertEqual(entry.details["time_zone"], ["Asia/Shanghai", "Europe/Berlin"])
        self.assertEqual(entry.ip, "127.0.0.1")

    def test_the_four_eyes_rule_for_templates(self):
        self.client.force_login(self.owner)
        self.client.post(
            self.url("accounts:settings"),
            {"name": "Acme", "time_zone": "Asia/Shanghai", "templates_need_second_person": "on"},
        )
        self.account.refresh_from_db()
        self.assertTrue(self.account.templates_need_second_person)
        entry = AuditEntry.objects.get(action="account.update")
        self.assertEqual(entry.details["templates_need_second_person"], [False, True])

    def test_unknown_time_zone_is_a_form_error(self):
        self.client.force_login(self.owner)
        response = self.client.post(
            self.url("accounts:settings"), {"name": "Acme", "time_zone": "Mars/Olympus"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Mars/Olympus is not a known time zone.")
        self.account.refresh_from_db()
        self.assertEqual(self.account.time_zone, "Asia/Shanghai")

    def test_viewer_reads_but_cannot_change(self):
        self.client.force_login(self.viewer)
        page = self.client.get(self.url("accounts:settings"))
        self.assertContains(page, "Only owners and admins")
        self.assertNotContains(page, 'name="time_zone"')
        response = self.client.post(self.url("accounts:settings"), {"name": "Hijacked", "time_zone": "UTC"})
        self.assertEqual(response.status_code, 403)
        self.account.refresh_from_db()
        self.assertEqual(self.account.name, "Acme")

    def test_limits_show_defaults_overrides_and_usage(self):
        limits = {row.key: row for row in account_limits(self.account)}
        self.assertEqual(limits["max_domains"].limit, 5)
        self.assertEqual(limits["monthly_quota"].limit, 60_000)
        self.assertEqual(limits["sender_address_deletions"].limit, 5)  # personal
        self.account.kind = "enterprise"
        self.account.daily_quota = 5_000
        self.account.save()
        limits = {row.key: row for row in account_limits(self.account)}
        self.assertEqual(limits["monthly_quota"].limit, 150_000)
        self.assertEqual(limits["sender_address_deletions"].limit, 10)

        register_usage("max_templates", lambda account: 7)
        self.addCleanup(limits_module._usage_counters.pop, "max_templates", None)
        self.client.force_login(self.viewer)
        self.assertContains(self.client.get(self.url("accounts:settings")), "7 / 10")

    @override_settings(DIRECTMAIL_DEFAULT_LIMITS={**settings.DIRECTMAIL_DEFAULT_LIMITS, "max_tags": 25})
    def test_platform_defaults_come_from_settings(self):
        self.assertEqual(self.account.limit("max_tags"), 25)


class AuditLogTests(AccountTestCase):
    def test_the_log_lists_entries_in_the_account_time_zone_and_filters(self):
        self.client.force_login(self.owner)
        entry = audit_record(
            actor=Actor(user=self.admin, ip="203.0.113.9"),
            action="account.update",
            account=self.account,
            target=self.account,
        )
        AuditEntry.objects.filter(pk=entry.pk).update(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
        page = self.client.get(self.url("accounts:audit_log"))
        # 23:30 UTC is 07:30 the next day in Asia/Shanghai.
        self.assertContains(page, "2026-03-02 07:30:00")
        self.assertContains(page, "203.0.113.9")

        filtered = self.client.get(self.url("accounts:audit_log"), {"action": "account.update"})
        self.assertContains(filtered, "admin@example.com")
        self.assertEqual({e.action for e in filtered.context["page"]}, {"account.update"})

        by_day = self.client.get(
            self.url("accounts:audit_log"), {"since": "2026-03-02", "until": "2026-03-02"}
        )
        self.assertContains(by_day, "203.0.113.9")
        other_day = self.client.get(
            self.url("accounts:audit_log"), {"since": "2026-03-01", "until": "2026-03-01"}
        )
        self.assertContains(other_day, "Nothing matches")

    def test_entries_of_other_accounts_never_show(self):
        self.client.force_login(self.owner)
        page = self.client.get(self.url("accounts:audit_log"))
        self.assertNotContains(page, "outsider@example.org")

    def test_bad_filter_dates_are_reported(self):
        self.client.force_login(self.owner)
        page = self.client.get(self.url("accounts:audit_log"), {"since": "2026-03-05", "until": "2026-03-01"})
        self.assertContains(page, "The start date is after the end date.")

    def test_only_managers_read_the_log(self):
        for person, status in (
            (self.admin, 200),
            (self.operator, 403),
            (self.reviewer, 403),
            (self.viewer, 403),
        ):
            self.client.force_login(person)
            with self.subTest(person=person.email):
                self.assertEqual(self.client.get(self.url("accounts:audit_log")).status_code, status)

    def test_paging(self):
        for n in range(60):
            audit_record(
                actor=Actor(user=self.owner), action="account.update", account=self.account, details={"n": n}
            )
        self.client.force_login(self.owner)
        first = self.client.get(self.url("accounts:audit_log"))
        self.assertContains(first, "Page 1 of 2")
        second = self.client.get(self.url("accounts:audit_log"), {"page": 2})
        self.assertContains(second, "Page 2 of 2")


def test_audit_details_read_as_words_not_stored_keys():
    from accounts.audit import detail_items

    items = detail_items({"blank_lines": 0, "role": ["viewer", "admin"], "type": "batch", "odd_key": "x"})
    assert items == [
        ("Blank lines", "0", False),
        ("Role", "Viewer → Admin", False),
        ("Type", "Batch", False),
        ("odd_key", "x", True),  # no label of its own: shown as stored, as code
    ]
