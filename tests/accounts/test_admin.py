"""Platform staff edit account limits in Django admin; members see the new limit; the change is audited."""

from django.urls import reverse

from accounts.models import AuditEntry, User
from tests.base import AccountTestCase


class StaffAdminTests(AccountTestCase):
    def test_staff_raise_the_daily_quota(self):
        staff = User.objects.create_superuser("staff@platform.example", "pw")
        self.client.force_login(staff)
        url = reverse("admin:accounts_account_change", args=[self.account.pk])
        self.assertEqual(self.client.get(url).status_code, 200)
        memberships = list(self.account.memberships.all())
        data = {
            "name": "Acme",
            "kind": "enterprise",
            "time_zone": "Asia/Shanghai",
            "daily_quota": "5000",
            "memberships-TOTAL_FORMS": str(len(memberships)),
            "memberships-INITIAL_FORMS": str(len(memberships)),
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        }
        for i, m in enumerate(memberships):
            data.update(
                {
                    f"memberships-{i}-id": str(m.pk),
                    f"memberships-{i}-account": str(self.account.pk),
                    f"memberships-{i}-user": str(m.user_id),
                    # Staff also promote the viewer to operator in the same save.
                    f"memberships-{i}-role": "operator" if m.user_id == self.viewer.pk else m.role,
                }
            )
        response = self.client.post(url, data)
        self.assertEqual(
            response.status_code,
            302,
            response.context["adminform"].form.errors if response.status_code == 200 else "",
        )
        self.account.refresh_from_db()
        self.assertEqual(self.account.limit("daily_quota"), 5000)
        self.assertEqual(self.account.limit("monthly_quota"), 150_000)
        entry = AuditEntry.objects.get(action="account.staff_update")
        self.assertEqual(entry.actor_user, staff)
        self.assertIn("daily_quota", entry.details["fields"])

        role_change = AuditEntry.objects.get(action="member.role_change")
        self.assertEqual(role_change.details, {"role": "operator", "by_staff": True})

        self.client.force_login(self.viewer)
        self.assertContains(self.client.get(self.url("accounts:settings")), "/ 5,000")

    def test_members_cannot_reach_admin(self):
        self.client.force_login(self.owner)
        response = self.client.get(reverse("admin:accounts_account_changelist"))
        self.assertEqual(response.status_code, 302)
