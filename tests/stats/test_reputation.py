"""The weekly reputation review moves the daily quota a level as the rules say, within staff bounds, and
records why; the account page shows it."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from accounts.models import AuditEntry
from stats import counters, reputation
from stats.models import ReputationReview
from tests.base import AccountTestCase


class ReputationTest(AccountTestCase):
    def week(self, requests_per_day: int, delivered: float, invalid: float = 0.0, complaints: float = 0.0):
        """Seven days of mail before today, in the account's zone."""
        today = self.account.today()
        hits = []
        for back in range(1, 8):
            at = datetime.combine(
                today - timedelta(days=back), time(12), tzinfo=timezone.get_fixed_timezone(0)
            )
            key = (self.account.pk, self.account.time_zone, 1, "")
            hits += [
                counters.Hit(*key, at, "accepted", count=requests_per_day),
                counters.Hit(*key, at, "delivered", count=round(requests_per_day * delivered)),
            ]
            if invalid:
                hits.append(counters.Hit(*key, at, "invalid", count=round(requests_per_day * invalid)))
            if complaints:
                hits.append(counters.Hit(*key, at, "complained", count=round(requests_per_day * complaints)))
        counters.add(hits)

    def review(self) -> ReputationReview:
        self.account.refresh_from_db()
        entry = reputation.review(self.account)
        self.account.refresh_from_db()
        return entry

    def test_good_busy_mail_moves_the_quota_up_a_level_and_the_log_says_why(self):
        self.week(1500, delivered=0.98)  # 75% of the 2,000 quota on the busiest day
        entry = self.review()
        self.assertEqual((entry.move, entry.old_quota, entry.new_quota), ("up", 2000, 5000))
        self.assertEqual(self.account.limit("daily_quota"), 5000)
        audit = AuditEntry.objects.get(action="account.quota_review")
        self.assertEqual(audit.details["to"], 5000)
        self.assertIn("delivery rate 98.0%", audit.details["reason"])
        self.client.force_login(self.owner)
        page = self.client.get(self.url("accounts:settings"))
        self.assertContains(page, "Daily quota: 5000")
        self.assertContains(page, "Raised (2000 → 5000)")

    def test_bad_mail_moves_it_down_and_bounds_hold(self):
        self.week(500, delivered=0.80)
        self.assertEqual(self.review().new_quota, 200)
        ReputationReview.objects.all().delete()
        self.account.daily_quota = None
        self.account.quota_floor = 2000
        self.account.save()
        self.assertEqual(
            (self.review().move, self.account.limit("daily_quota")), ("stay", 2000)
        )  # at the floor

    def test_invalid_addresses_or_complaints_move_it_down(self):
        self.week(500, delivered=0.9, invalid=0.08)
        entry = self.review()
        self.assertEqual(entry.move, "down")
        self.assertIn("invalid-address rate", entry.reason)

    def test_good_but_quiet_or_too_little_mail_keeps_it(self):
        self.week(200, delivered=0.99)  # the busiest day used 10% of the quota
        self.assertEqual(self.review().move, "stay")
        ReputationReview.objects.all().delete()
        self.assertIn("too little mail", reputation.judge(self.account, 50, 50, 0, 0, 50)[1])
        self.assertEqual(reputation.review_all(), {"up": 0, "down": 0, "stay": 2})  # both accounts reviewed
