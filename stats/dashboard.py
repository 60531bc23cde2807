"""What the statistics pages show: counters over a date range, by day and by tag, with totals and rates.

Everything is read from stats.models.DailyCounter (a row per account, day, sender and tag), so a 90-day
range reads at most a few thousand rows whatever the volume of mail. Filters the counters do not have (the
egress address a message left from, its IP pool, its configuration set: `messages`) count the events of
the messages they select instead.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from sending.bounce_categories import label as category_label
from sending.esp import domains_of
from sending.models import DomainProvider, MessageEvent
from sending.providers import label_of
from stats.models import COUNTER_FIELDS, CategoryCounter, DailyCounter

MAX_DAYS = 90
PRESETS = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
# Complaint rates to stay under (Gmail's and Yahoo's bulk sender rules since 2024): keep it below 0.1%,
# never reach 0.3%.
COMPLAINT_WATCH, COMPLAINT_LIMIT = 0.001, 0.003


@dataclass
class Report:
    start: date
    end: date  # inclusive
    days: list[dict]  # {"day": date, **counters}, every day of the range
    tags: list[dict]  # {"tag_name": str, **counters}, busiest first
    totals: dict[str, int]
    senders: list[dict] = field(default_factory=list)  # {"sender_id": int, **counters}, busiest first

    @property
    def rates(self) -> dict[str, float | None]:
        return rates(self.totals)


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    """Delivery and invalid-address rates over requests; open and click rates (unique) over the delivered
    mail that was tracked (mail sent without tracking cannot be opened, as far as we know); the complaint
    rate over delivered mail (as Gmail's Postmaster Tools counts it). None where the divisor is zero (shown
    as a dash, never as 0% or an error)."""

    def ratio(part: str, whole: str) -> float | None:
        return counts[part] / counts[whole] if counts[whole] else None

    return {
        "delivery": ratio("delivered", "requests"),
        "invalid": ratio("invalid", "requests"),
        "open": ratio("unique_opens", "tracked"),
        "click": ratio("unique_clicks", "tracked"),
        "complaint": ratio("complaints", "delivered"),
    }


def complaint_level(rate: float | None) -> str:
    """ "ok" under COMPLAINT_WATCH, "watch" from it, "over" from COMPLAINT_LIMIT; "" without a rate."""
    if rate is None:
        return ""
    return "over" if rate >= COMPLAINT_LIMIT else "watch" if rate >= COMPLAINT_WATCH else "ok"


def complaint_rows(rows: list[dict], key: str) -> list[dict]:
    """Rows of a report (its tags or senders) with mail delivered or complained about: {key, "delivered",
    "complaints", "rate", "level"}, the highest complaint rate first."""
    found = []
    for row in rows:
        if not row["delivered"] and not row["complaints"]:
            continue
        rate = rates(row)["complaint"]
        found.append({key: row[key], "delivered": row["delivered"], "complaints": row["complaints"],
                      "rate": rate, "level": complaint_level(rate)})  # fmt: skip
    return sorted(found, key=lambda r: (-(r["rate"] or 0), -r["complaints"], str(r[key])))


def report(
    account,
    start: date,
    end: date,
    *,
    sender_id: int | None = None,
    sender_ids: list[int] | None = None,
    tag_name: str | None = None,
    esp: str | None = None,
    messages: Q | None = None,
) -> Report:
    if messages is not None:
        return _report_from_events(account, start, end, messages, sender_id, sender_ids, tag_name, esp)
    rows = DailyCounter.objects.filter(account=account, day__gte=start, day__lte=end)
    if sender_id is not None:
        rows = rows.filter(sender_id=sender_id)
    if sender_ids is not None:
        rows = rows.filter(sender_id__in=sender_ids)
    if esp is not None:
        rows = rows.filter(esp=esp)
    if tag_name is not None:
        rows = rows.filter(tag_name=tag_name)
    sums = {field: Sum(field) for field in COUNTER_FIELDS}
    by_day = {r["day"]: r for r in rows.values("day").annotate(**sums)}
    days: list[dict[str, Any]] = []
    day = start
    while day <= end:
        found = by_day.get(day, {})
        days.append({"day": day, **{f: found.get(f) or 0 for f in COUNTER_FIELDS}})
        day += timedelta(days=1)
    tags = [
        {"tag_name": r["tag_name"], **{f: r[f] or 0 for f in COUNTER_FIELDS}}
        for r in rows.values("tag_name").annotate(**sums).order_by("-requests", "tag_name")
    ]
    senders = [
        {"sender_id": r["sender_id"], **{f: r[f] or 0 for f in COUNTER_FIELDS}}
        for r in rows.values("sender_id").annotate(**sums).order_by("-requests", "sender_id")
    ]
    totals: dict[str, int] = {f: sum(d[f] for d in days) for f in COUNTER_FIELDS}
    return Report(start, end, days, tags, totals, senders)


# The counter each event type adds to, when counting events (the rest as stats.counters.FIELD_OF).
_EVENT_FIELD = {
    "accepted": "requests", "delivered": "delivered", "deferred": "deferred", "failed": "failed",
    "invalid": "invalid", "opened": "opens", "clicked": "clicks", "unsubscribed": "unsubscribes",
    "complained": "complaints",
}  # fmt: skip


def _report_from_events(account, start, end, messages, sender_id, sender_ids, tag_name, esp) -> Report:
    """The same report, counted from the events of the messages `messages` selects (by their message's
    fields: "message__..."), by day in the account's time zone."""
    zone = ZoneInfo(account.time_zone)
    events = MessageEvent.objects.filter(account=account, at__date__gte=start - timedelta(days=1))
    events = events.filter(at__date__lte=end + timedelta(days=1)).filter(messages)
    if sender_id is not None:
        events = events.filter(message__envelope__sender_id=sender_id)
    if sender_ids is not None:
        events = events.filter(message__envelope__sender_id__in=sender_ids)
    if tag_name is not None:
        events = events.filter(message__envelope__tag_name=tag_name)
    if esp is not None:
        events = events.filter(domains_of(esp, "message__rcpt_domain"))
    events = events.annotate(local_day=TruncDate("at", tzinfo=zone)).filter(
        local_day__gte=start, local_day__lte=end
    )
    tracked = Q(type="delivered") & (
        Q(message__envelope__open_trace=True) | Q(message__envelope__click_trace=True)
    )
    unsent = Q(type="invalid", message__attempts=0)
    counted = events.values(
        "local_day", "message__envelope__tag_name", "message__envelope__sender_id"
    ).annotate(
        **{f"n_{t}": Count("pk", filter=Q(type=t)) for t in _EVENT_FIELD},
        unique_opens=Count("message", filter=Q(type="opened"), distinct=True),
        unique_clicks=Count("message", filter=Q(type="clicked"), distinct=True),
        tracked=Count("pk", filter=tracked),
        unsent=Count("pk", filter=unsent),
    )
    by_day: dict[date, dict[str, int]] = {}
    by_tag: dict[str, dict[str, int]] = {}
    by_sender: dict[int, dict[str, int]] = {}
    for row in counted:
        values = {field: row[f"n_{t}"] for t, field in _EVENT_FIELD.items()}
        values.update(unique_opens=row["unique_opens"], unique_clicks=row["unique_clicks"],
                      tracked=row["tracked"], sent=row["n_accepted"] - row["unsent"])  # fmt: skip
        for bucket in (
            by_day.setdefault(row["local_day"], dict.fromkeys(COUNTER_FIELDS, 0)),
            by_tag.setdefault(row["message__envelope__tag_name"], dict.fromkeys(COUNTER_FIELDS, 0)),
            by_sender.setdefault(row["message__envelope__sender_id"], dict.fromkeys(COUNTER_FIELDS, 0)),
        ):
            for name, value in values.items():
                bucket[name] += value
    days: list[dict[str, Any]] = []
    day = start
    while day <= end:
        days.append({"day": day, **by_day.get(day, dict.fromkeys(COUNTER_FIELDS, 0))})
        day += timedelta(days=1)
    tags: list[dict[str, Any]] = sorted(
        ({"tag_name": name, **values} for name, values in by_tag.items()),
        key=lambda r: (-int(r["requests"]), str(r["tag_name"])),
    )
    senders: list[dict[str, Any]] = sorted(
        ({"sender_id": pk, **values} for pk, values in by_sender.items()),
        key=lambda r: (-int(r["requests"]), int(r["sender_id"])),
    )
    totals: dict[str, int] = {f: sum(d[f] for d in days) for f in COUNTER_FIELDS}
    return Report(start, end, days, tags, totals, senders)


def by_category(account, start: date, end: date) -> list[dict]:
    """Deferrals, failures and invalid addresses in the range by bounce category (sending.bounce_categories),
    most first: {"category", "label", "deferred", "failed", "invalid", "total"}."""
    sums = (
        CategoryCounter.objects.filter(account=account, day__gte=start, day__lte=end)
        .values("category")
        .annotate(deferred=Sum("deferred"), failed=Sum("failed"), invalid=Sum("invalid"))
        .order_by()
    )
    rows = [
        {**row, "label": category_label(row["category"]),
         "total": row["deferred"] + row["failed"] + row["invalid"]}
        for row in sums
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (-r["total"], r["category"]))


def deferrals_by_provider(account, start: date, end: date, limit: int = 20) -> list[dict]:
    """Deferrals (and holds) of the account's mail in the range (days in its time zone), by the mailbox
    provider last found for each destination domain (sending.providers): {"provider", "label",
    "deferred", "domains"}, most first. Read from the deferral events: few, next to deliveries."""
    zone = ZoneInfo(account.time_zone)
    since = datetime.combine(start, time.min, tzinfo=zone)
    before = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    counted = (
        MessageEvent.objects.filter(account=account, type="deferred", at__gte=since, at__lt=before)
        .values("message__rcpt_domain")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_domain = {row["message__rcpt_domain"]: row["n"] for row in counted}
    known = dict(DomainProvider.objects.filter(domain__in=by_domain).values_list("domain", "provider"))
    rows: dict[str, dict] = {}
    for domain, count in by_domain.items():
        name = known.get(domain, "")
        row = rows.setdefault(name, {"provider": name, "label": label_of(name) if name else "", "deferred": 0,
                                     "domains": 0})  # fmt: skip
        row["deferred"] += count
        row["domains"] += 1
    return sorted(rows.values(), key=lambda r: (-r["deferred"], r["provider"]))[:limit]


def monthly_usage(account, months: int = 12) -> list[dict]:
    """For billing, per month (newest first): messages accepted, the free allowance used (the first
    `free_daily_sends` of each day) and what is billable."""
    today = account.today()
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    free_per_day = account.limit("free_daily_sends")
    per_day = (
        DailyCounter.objects.filter(account=account, day__gte=first)
        .values("day")
        .annotate(n=Sum("requests"))
        .values_list("day", "n")
    )
    months_seen: dict[date, dict] = {}
    month = first
    while month <= today:
        months_seen[month] = {"month": month, "messages": 0, "free": 0, "billable": 0}
        month = (month + timedelta(days=32)).replace(day=1)
    for day, count in per_day:
        row = months_seen[day.replace(day=1)]
        free = min(count or 0, free_per_day)
        row["messages"] += count or 0
        row["free"] += free
        row["billable"] += (count or 0) - free
    return sorted(months_seen.values(), key=lambda r: r["month"], reverse=True)
