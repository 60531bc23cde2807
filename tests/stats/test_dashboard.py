"""The statistics dashboard: totals and rates (dashes where nothing was delivered), filters, the days of
the period, the 90-day bound, and the CSV export with its escaping."""

import csv
import io
from datetime import timedelta

from django.utils import timezone

from accounts.audit import SYSTEM
from sending.services.senders import sender_address_create
from stats import counters
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain


class DashboardTest(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        domain = verified_domain(cls.account)
        cls.ann = sender_address_create(
            account=cls.account, domain=domain, local_part="ann", send_type="trigger", actor=SYSTEM
        )
        cls.bob = sender_address_create(
            account=cls.account, domain=domain, local_part="bob", send_type="batch", actor=SYSTEM
        )

    def setUp(self):
        self.client.force_login(self.viewer)
        now = timezone.now()
        zone = self.account.time_zone
        hits = []
        for sender, tag, when, kind, count in (
            (self.ann, "welcome", now, "accepted", 10),
            (self.ann, "welcome", now, "delivered", 8),
            (self.ann, "welcome", now, "invalid", 2),
            (self.ann, "welcome", now, "opened", 4),
            (self.bob, "-news", now - timedelta(days=2), "accepted", 5),
            (self.bob, "-news", now - timedelta(days=2), "delivered", 5),
            (self.bob, "", now - timedelta(days=40), "accepted", 7),
        ):
            tracked = kind == "delivered" and sender == self.ann  # ann's mail had open tracking, bob's none
            hits.append(
                counters.Hit(
                    self.account.pk,
                    zone,
                    sender.pk,
                    tag,
                    when,
                    kind,
                    count=count,
                    first=True,
                    tracked=tracked,
                )
            )
        counters.add(hits)

    def page(self, **query):
        return self.client.get(self.url("stats:dashboard"), query)

    def test_totals_rates_and_filters(self):
        page = self.page()  # the last 7 days
        self.assertContains(page, '<div class="fs-4" data-total="requests">15</div>', html=True)
        self.assertContains(
            page, '<div class="small" data-rate="delivery">86.7% delivery rate</div>', html=True
        )
        # Opens over the delivered mail that could report them (ann's 8), not over all 13 delivered.
        self.assertContains(page, '<div class="small" data-rate="open">50.0% open rate</div>', html=True)
        self.assertContains(page, "chart-days")
        self.assertEqual(len(page.context["report"].days), 7)
        tagged = self.page(tag="welcome")
        self.assertContains(tagged, '<div class="fs-4" data-total="requests">10</div>', html=True)
        bob = self.page(sender=str(self.bob.pk), range="90d")
        self.assertContains(bob, '<div class="fs-4" data-total="requests">12</div>', html=True)
        # Sent without tracking: no open rate to speak of (a dash, not 0.0%).
        self.assertContains(bob, '<div class="small" data-rate="open">— open rate</div>', html=True)
        untagged = self.page(tag="-", range="90d")
        self.assertContains(untagged, '<div class="fs-4" data-total="requests">7</div>', html=True)
        self.assertContains(
            untagged, '<div class="small" data-rate="delivery">0.0% delivery rate</div>', html=True
        )
        self.assertContains(untagged, '<div class="small" data-rate="open">— open rate</div>', html=True)

    def test_complaint_rate_per_sender_and_tag_against_the_lines(self):
        now, zone = timezone.now(), self.account.time_zone
        counters.add(
            [
                counters.Hit(self.account.pk, zone, sender.pk, tag, now, kind, count=count, first=True)
                for sender, tag, kind, count in (
                    (self.ann, "welcome", "delivered", 992),  # 1,000 delivered with the 8 above
                    (self.ann, "welcome", "complained", 4),  # 0.4%: over the 0.3% line
                    (self.bob, "-news", "delivered", 995),  # 1,000 delivered with the 5 above
                    (self.bob, "-news", "complained", 1),  # 0.1%: at the 0.1% line
                )
            ]
        )
        page = self.page()
        self.assertContains(page, '<div class="fs-4" data-total="complaints">5</div>', html=True)
        self.assertContains(
            page, '<div class="small" data-rate="complaint">0.25% complaint rate</div>', html=True
        )
        self.assertEqual(page.context["complaints"]["level"], "watch")
        senders = {r["name"]: (r["percent"], r["level"]) for r in page.context["complaints"]["senders"]}
        self.assertEqual(senders, {self.ann.address: (0.4, "over"), self.bob.address: (0.1, "watch")})
        tags = [(r["tag_name"], r["level"]) for r in page.context["complaints"]["tags"]]
        self.assertEqual(tags, [("welcome", "over"), ("-news", "watch")])
        chart = page.context["chart"]["complaints"]
        self.assertEqual((chart["watch"], chart["limit"]), (0.1, 0.3))
        self.assertEqual(chart["rates"][-1], 0.251)  # 5 of the 1,995 delivered today
        self.assertContains(page, 'id="chart-complaints"')
        self.assertContains(page, '<span class="badge text-bg-danger">0.4%</span>', html=True)
        # Filtered to one sender, only its rate counts.
        bob = self.page(sender=str(self.bob.pk))
        self.assertContains(
            bob, '<div class="small" data-rate="complaint">0.1% complaint rate</div>', html=True
        )

    def test_custom_periods_are_bounded(self):
        today = self.account.today()
        too_long = self.page(range="custom", start=str(today - timedelta(days=90)), end=str(today))
        self.assertContains(too_long, "At most 90 days at a time.", status_code=400)
        backwards = self.page(range="custom", start=str(today), end=str(today - timedelta(days=1)))
        self.assertContains(backwards, "The period starts after it ends.", status_code=400)
        month = self.page(
            range="custom", start=str(today - timedelta(days=45)), end=str(today - timedelta(days=30))
        )
        self.assertContains(month, '<div class="fs-4" data-total="requests">7</div>', html=True)

    def test_csv_export_of_what_is_shown(self):
        response = self.client.get(self.url("stats:export"), {"range": "7d"})
        body = response.content.decode("utf-8")
        self.assertTrue(body.startswith("\ufeff"))
        rows = list(csv.reader(io.StringIO(body[1:])))
        self.assertEqual(rows[0][:4], ["Day", "Requests", "Sent", "Delivered"])
        self.assertEqual(len([r for r in rows[1:8] if r]), 7)
        tags = {r[0]: r[1] for r in rows[10:] if r}
        self.assertEqual(tags, {"welcome": "10", "'-news": "5"})  # a cell starting with - is escaped

    def test_the_overview_shows_today_and_the_last_7_days(self):
        page = self.client.get(self.url("accounts:overview"))
        self.assertContains(page, '<td class="text-end" data-today="requests">10</td>', html=True)
        self.assertContains(page, "15 requests, 13 delivered")

    def test_usage_per_month_splits_free_and_billable(self):
        self.account.free_daily_sends = 6
        self.account.save()
        page = self.client.get(self.url("stats:usage"))
        rows = page.context["rows"]
        self.assertEqual(len(rows), 12)
        this_month = rows[0]
        # Today 10 (6 free) and two days ago 5 (all free), when both fall in this month.
        if (self.account.today() - timedelta(days=2)).month == self.account.today().month:
            self.assertEqual(
                (this_month["messages"], this_month["free"], this_month["billable"]), (15, 11, 4)
            )
        self.assertEqual(sum(r["messages"] for r in rows), 22)
        self.assertContains(page, "the first 6 of each day are free")
