"""`make bench`: how fast the statistics pages and API answer with a million messages in the database.

It generates N messages (default 1,000,000) over the last 90 days for one account (3 sender addresses, 5
tags), each with its accepted and delivered events and an open for one in ten, and the per-day counters
those events make. Then it times the dashboard page (30 and 90 days) and SenderStatisticsByTagNameAndBatchID
(30 days) through the full request path, and as the baseline the same 30/90-day totals computed by scanning
the events. It prints p50/p95 in ms and the ratios; it asserts nothing. Run it on an empty database.
"""

import re
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from accounts.access import access_key_create
from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending import events
from sending.api.signatures import rpc_signature
from sending.management.commands._bench import record
from sending.models import Domain, DomainStatus, Envelope, Message, MessageEvent
from sending.services.domains import domain_create
from sending.services.senders import sender_address_create
from stats import counters

TAGS = ["welcome", "receipt", "news", "reset", ""]
DAYS = 90


class Command(BaseCommand):
    help = "Time the statistics dashboard and API over 30 and 90 days with N messages (prints p50/p95)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=1_000_000)
        parser.add_argument("--repeat", type=int, default=40, help="Timed requests per measurement.")

    def handle(self, *args, **options):
        if Message.objects.exists():
            raise CommandError("bench_stats needs an empty database (make bench creates one)")
        count = options["messages"]
        self.stdout.write(f"statistics benchmark on {connection.vendor}: {count:,} messages over {DAYS} days")
        call_command("collectstatic", interactive=False, verbosity=0)  # the page's static files, as deployed
        started = time.monotonic()
        user, account, key_id, secret = self._setup()
        self._generate(account, count)
        self.stdout.write(f"  generated in {time.monotonic() - started:.0f}s")

        client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])  # a host the install answers to
        client.force_login(user)
        today = account.today()
        results = {}
        for days in (30, 90):
            start = today - timedelta(days=days - 1)
            url = f"/a/{account.public_id}/statistics/"
            query = {"range": "custom", "start": start.isoformat(), "end": today.isoformat()}
            results[f"dashboard {days} days"] = self._time(
                options["repeat"], lambda url=url, query=query: self._page(client, url, query)
            )
            results[f"event scan {days} days (baseline)"] = self._time(
                options["repeat"], lambda start=start: self._scan(account, start)
            )
        start = today - timedelta(days=29)
        results["SenderStatisticsByTagNameAndBatchID 30 days"] = self._time(
            options["repeat"], lambda: self._api(client, key_id, secret, start, today)
        )
        for name, (p50, p95) in results.items():
            self.stdout.write(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        worst = max(p95 for name, (_p50, p95) in results.items() if "baseline" not in name)
        record("stats_p95", worst, "ms")
        for days in (30, 90):
            ratio = results[f"event scan {days} days (baseline)"][1] / results[f"dashboard {days} days"][1]
            self.stdout.write(f"  {days} days: scanning the events took {ratio:.1f}x the dashboard's p95")
        fresh = self._freshness(client, account)
        self.stdout.write(f"  a click was on the dashboard {fresh:.2f} s after it was recorded")
        record("stats_fresh", fresh, "s")

    def _freshness(self, client, account) -> float:
        """Seconds from a click being recorded (the events core, committed) until the dashboard counts it."""
        url = f"/a/{account.public_id}/statistics/"
        today = account.today()
        query = {"range": "custom", "start": today.isoformat(), "end": today.isoformat()}

        def clicks() -> int:
            page = self._page(client, url, query).content.decode()
            found = re.search(r'data-total="unique_clicks">([\d,]+)<', page)
            return int(found.group(1).replace(",", "")) if found else -1

        before = clicks()
        message = Message.objects.filter(account=account, clicks=0).order_by("-pk")[0]
        started = time.perf_counter()
        with transaction.atomic():
            events.record([events.Event("clicked", message, {"url": "https://bench.example/"}, first=True)])
        while clicks() == before and time.perf_counter() - started < 60:
            time.sleep(0.05)
        return time.perf_counter() - started

    def _setup(self):
        user, account, _created = user_signup(
            email="bench-stats@example.com", password=None, account_name="bench stats", actor=SYSTEM
        )
        domain = domain_create(account=account, name="stats.bench.example", actor=SYSTEM)
        Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)
        domain.refresh_from_db()
        self.senders = [
            sender_address_create(
                account=account, domain=domain, local_part=f"s{n}", send_type="trigger", actor=SYSTEM
            )
            for n in range(3)
        ]
        key, secret = access_key_create(account=account, actor=SYSTEM)
        return user, account, key.key_id, secret

    def _generate(self, account, count: int) -> None:
        """Messages, their events and the counters, a day at a time (plain SQL: data, not the test)."""
        now = timezone.now()
        per_day = count // DAYS
        message_sql = (
            "INSERT INTO sending_message (envelope_id, account_id, rcpt, rcpt_domain, message_id, state, "
            "next_attempt_at, give_up_at, attempts, lost_leases, lease_owner, last_error, variables, "
            "created_at, finished_at, opens, clicks, first_opened_at) VALUES "
            "(%s, %s, %s, 'dest.example', %s, 'delivered', %s, %s, 1, 0, '', '', '{}', %s, %s, %s, 0, %s)"
        )
        event_sql = (
            "INSERT INTO sending_messageevent (message_id, account_id, type, at, detail) "
            "VALUES (%s, %s, %s, %s, '{}')"
        )
        for back in range(DAYS):
            at = (now - timedelta(days=back)).astimezone(UTC).replace(hour=4, minute=0)
            stamp = connection.ops.adapt_datetimefield_value(at)
            hits: Counter[tuple] = Counter()
            with transaction.atomic():
                envelopes: dict[tuple, int] = {}
                for sender in self.senders:
                    for tag in TAGS:
                        envelopes[(sender.pk, tag)] = Envelope.objects.create(
                            env_id=str(10**17 + back * 100 + len(envelopes) + 1000 * sender.pk),
                            account=account, sender=sender, tag_name=tag, source="api", subject="s",
                        ).pk  # fmt: skip
                keys = list(envelopes)
                rows = []
                for n in range(per_day):
                    key = keys[n % len(keys)]
                    opened = n % 10 == 0
                    first_open = stamp if opened else None
                    rcpt = f"u{back}-{n}@dest.example"
                    row = (envelopes[key], account.pk, rcpt, uuid.uuid4().hex, stamp, stamp, stamp, stamp)
                    rows.append((*row, 1 if opened else 0, first_open))
                    hits[(key, "accepted")] += 1
                    hits[(key, "delivered")] += 1
                    if opened:
                        hits[(key, "opened")] += 1
                with connection.cursor() as cursor:
                    cursor.executemany(message_sql, rows)
                    ids = list(
                        Message.objects.filter(envelope_id__in=envelopes.values()).values_list(
                            "pk", "first_opened_at"
                        )
                    )
                    events = []
                    for pk, opened_at in ids:
                        events += [(pk, account.pk, "accepted", stamp), (pk, account.pk, "delivered", stamp)]
                        if opened_at:
                            events.append((pk, account.pk, "opened", stamp))
                    cursor.executemany(event_sql, events)
                counters.add(
                    [
                        counters.Hit(
                            account.pk, account.time_zone, sender_id, tag, at, kind, count=n, first=True
                        )
                        for ((sender_id, tag), kind), n in hits.items()
                    ]
                )

    @staticmethod
    def _scan(account, start) -> dict:
        since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
        rows = (
            MessageEvent.objects.filter(account=account, at__gte=since).values("type").annotate(n=Count("pk"))
        )
        return {row["type"]: row["n"] for row in rows}

    @staticmethod
    def _api(client, key_id, secret, start, end):
        params = {
            "Action": "SenderStatisticsByTagNameAndBatchID",
            "Format": "JSON",
            "Version": "2015-11-23",
            "AccessKeyId": key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "StartTime": start.isoformat(),
            "EndTime": end.isoformat(),
        }
        params["Signature"] = rpc_signature("GET", params, secret)
        response = client.get("/", params, secure=True)  # as behind the TLS proxy
        if response.status_code != 200:
            raise CommandError(response.content.decode()[:300])
        return response

    @staticmethod
    def _page(client, url, query):
        response = client.get(url, query, secure=True)
        if response.status_code != 200:
            raise CommandError(f"the dashboard answered {response.status_code}")
        return response

    @staticmethod
    def _time(repeat: int, call) -> tuple[float, float]:
        call()  # warm
        spent = []
        for _ in range(repeat):
            started = time.perf_counter()
            call()
            spent.append((time.perf_counter() - started) * 1000)
        spent.sort()
        return statistics.median(spent), spent[max(0, int(len(spent) * 0.95) - 1)]
