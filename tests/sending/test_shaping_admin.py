"""Django admin for shaping: staff add a reply rule (a bad regular expression is refused) and its page tests
it against sample replies, saying which rule wins for each; provider limits in force are shown and reach
the workers at once."""

from django.test import TestCase
from django.urls import reverse

from sending import provider_limits, shaping
from sending.models import ProviderLimit, ShapingRule
from tests.base import PASSWORD, make_user


class ShapingAdminTests(TestCase):
    def setUp(self):
        staff = make_user("staff@example.com")
        staff.is_staff = staff.is_superuser = True
        staff.save()
        self.client.login(email="staff@example.com", password=PASSWORD)
        shaping._clear_rules()
        provider_limits.clear_cache()

    def rule_data(self, **changes) -> dict:
        data = {
            "name": "hoster-slow-down", "enabled": "on", "provider": "", "code": "451", "enhanced": "4.7.",
            "pattern": r"slow\s+down", "action": "suspend", "duration": "00:10:00", "fraction": "0.5",
            "kind": "rate limited",
            "samples": "451 4.7.1 Please slow down\n421 4.7.28 unusual rate of unsolicited mail\n250 OK",
        }  # fmt: skip
        return {**data, **changes}

    def test_a_rule_is_checked_and_tested_against_its_samples(self):
        add = reverse("admin:sending_shapingrule_add")
        response = self.client.post(add, self.rule_data(pattern="slow(down"))
        self.assertContains(response, "Not a valid regular expression")
        response = self.client.post(add, self.rule_data(action="lower", duration=""))
        self.assertContains(response, "Suspending and lowering need a duration.")
        response = self.client.post(add, self.rule_data(name="gmail-unsolicited-rate"))
        self.assertContains(response, "A shipped rule has this name.")
        self.assertFalse(ShapingRule.objects.exists())

        response = self.client.post(add, self.rule_data())
        self.assertEqual(response.status_code, 302)
        rule = ShapingRule.objects.get()
        page = self.client.get(reverse("admin:sending_shapingrule_change", args=[rule.pk])).content.decode()
        table = page.split('id="sample-results"')[1].split("</table>")[0]
        rows = table.split("<tr>")[2:]
        self.assertIn("Please slow down</td><td>yes</td><td>hoster-slow-down", rows[0])
        self.assertIn("unsolicited mail</td><td>no</td><td>none (unclassified)", rows[1])  # a Gmail rule
        self.assertIn("250 OK</td><td>no</td><td>none (unclassified)</td>", rows[2])
        # The workers read it (the cache was cleared by the save).
        self.assertEqual(shaping.classify("other:hoster.example", 451, "451 4.7.1 please slow  down").name,
                         "hoster-slow-down")  # fmt: skip

    def test_provider_limits_show_what_is_in_force_and_reach_the_workers(self):
        self.assertEqual(provider_limits.limits_for("gmail").connections, 10)
        response = self.client.post(reverse("admin:sending_providerlimit_add"), {
            "provider": "gmail", "egress_ip": "", "connections": "3", "per_hour": "1000", "note": "new IP",
        })  # fmt: skip
        self.assertEqual(response.status_code, 302)
        self.assertEqual(provider_limits.limits_for("gmail").connections, 3)  # at once, not in 30 s
        row = ProviderLimit.objects.get()
        page = self.client.get(reverse("admin:sending_providerlimit_change", args=[row.pk]))
        self.assertContains(page, "connections 3, per_connection 100, per_second 25.0")
        self.assertContains(page, "per_hour 1000")
