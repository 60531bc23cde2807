"""Adding events to the per-day counters (stats.models.DailyCounter), and recomputing them.

`on_events` listens to every event sending.events records (registered in StatsConfig.ready), in the
event's transaction: it turns the batch into Hits and `add()` folds them into one upsert per counter row
(plain SQL: it runs for every message). `rebuild()` recomputes the rows from the events themselves; a test
proves the two agree, and `manage.py rebuild_counters` repairs them if they ever do not.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from sending.esp import esp_of
from sending.events import Event
from stats.models import COUNTER_FIELDS, CategoryCounter, DailyCounter

# Which counter a Hit adds to: an event kind (sending.events.KINDS) or "sent".
FIELD_OF = {
    "accepted": "requests",
    "sent": "sent",  # not an event kind: accepted messages that were queued (see on_events)
    "delivered": "delivered",
    "deferred": "deferred",
    "delayed": "deferred",
    "failed": "failed",
    "bounced": "failed",
    "invalid": "invalid",
    "hard_bounced": "invalid",
    "withheld": "invalid",
    "opened": "opens",
    "clicked": "clicks",
    "unsubscribed": "unsubscribes",
    "complained": "complaints",
}
_UNIQUE = {"opened": "unique_opens", "clicked": "unique_clicks"}


@dataclass(frozen=True)
class Hit:
    """One event to count: `first` for an open or click that is the message's first of its kind."""

    account_id: int
    time_zone: str
    sender_id: int
    tag_name: str
    at: datetime
    type: str
    count: int = 1
    first: bool = False
    tracked: bool = False  # a delivery of a message with open or click tracking
    esp: str = ""  # the recipient's mailbox provider (sending.esp)


def on_events(events: list[Event], at: datetime) -> None:
    """Count recorded events (sending.events listener): accepted mail is a request and, unless its
    recipient was suppressed, sent; a delivery of tracked mail is also counted as tracked."""
    hits = []
    for event in events:
        message = event.message
        envelope = message.envelope
        key = (message.account_id, message.account.time_zone, envelope.sender_id, envelope.tag_name, at)
        esp = esp_of(message.rcpt_domain)
        if event.kind == "suppressed":
            hits += [
                Hit(*key, "invalid", esp=esp),
                Hit(*key, "sent", count=-1, esp=esp),
            ]  # "accepted" counted it
            continue
        tracked = event.kind == "delivered" and (envelope.open_trace or envelope.click_trace)
        hits.append(Hit(*key, event.kind, first=event.first, tracked=bool(tracked), esp=esp))
        if event.kind == "accepted":
            hits.append(Hit(*key, "sent", esp=esp))
    add(hits)
    add_categories(
        [
            (e.message.account_id, e.message.account.time_zone, at, e.detail["category"], e.kind)
            for e in events
            if e.detail.get("category") and e.kind in CATEGORY_FIELD_OF
        ]
    )


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def _sql() -> str:
    table = DailyCounter._meta.db_table
    columns = ", ".join(COUNTER_FIELDS)
    updates = ", ".join(f"{f} = {table}.{f} + excluded.{f}" for f in COUNTER_FIELDS)
    return (
        f"INSERT INTO {table} (account_id, day, sender_id, tag_name, esp, {columns}) "  # noqa: S608
        f"VALUES (%s, %s, %s, %s, %s, {', '.join(['%s'] * len(COUNTER_FIELDS))}) "
        f"ON CONFLICT (account_id, day, sender_id, tag_name, esp) DO UPDATE SET {updates}"
    )


def add(hits: list[Hit]) -> None:
    """Count the hits: one upsert per (account, local day, sender, tag, ESP). Call inside the event's
    transaction."""
    rows: dict[tuple, Counter] = {}
    for hit in hits:
        day = hit.at.astimezone(_zone(hit.time_zone)).date()
        deltas = rows.setdefault((hit.account_id, day, hit.sender_id, hit.tag_name, hit.esp), Counter())
        deltas[FIELD_OF[hit.type]] += hit.count
        if hit.first and hit.type in _UNIQUE:
            deltas[_UNIQUE[hit.type]] += hit.count
        if hit.tracked:
            deltas["tracked"] += hit.count
    if not rows:
        return
    with connection.cursor() as cursor:
        for (account_id, day, sender_id, tag_name, esp), deltas in rows.items():
            day_value = connection.ops.adapt_datefield_value(day)
            values = [deltas[field] for field in COUNTER_FIELDS]
            cursor.execute(_sql(), [account_id, day_value, sender_id, tag_name, esp, *values])


# Which CategoryCounter column an event kind with a bounce category adds to.
CATEGORY_FIELD_OF = {
    "deferred": "deferred", "delayed": "deferred", "failed": "failed", "bounced": "failed",
    "invalid": "invalid", "hard_bounced": "invalid",
}  # fmt: skip


def add_categories(hits: list[tuple[int, str, datetime, str, str]]) -> None:
    """Count (account id, time zone, at, category, event kind) hits: one upsert per (account, local day,
    category). Call inside the events' transaction."""
    rows: dict[tuple, Counter] = {}
    for account_id, zone, at, category, kind in hits:
        day = at.astimezone(_zone(zone)).date()
        rows.setdefault((account_id, day, category[:16]), Counter())[CATEGORY_FIELD_OF[kind]] += 1
    if not rows:
        return
    table = CategoryCounter._meta.db_table
    sql = (
        f"INSERT INTO {table} (account_id, day, category, deferred, failed, invalid) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (account_id, day, category) DO UPDATE SET "
        f"deferred = {table}.deferred + excluded.deferred, failed = {table}.failed + excluded.failed, "
        f"invalid = {table}.invalid + excluded.invalid"
    )
    with connection.cursor() as cursor:
        for (account_id, day, category), deltas in rows.items():
            day_value = connection.ops.adapt_datefield_value(day)
            cursor.execute(sql, [account_id, day_value, category, deltas["deferred"], deltas["failed"],
                                 deltas["invalid"]])  # fmt: skip


@transaction.atomic
def rebuild(account_id: int | None = None) -> int:
    """Recompute the counters from the events (of one account, or all); returns the rows written."""
    from accounts.models import Account
    from sending.models import EventType, MessageEvent

    accounts = Account.objects.all() if account_id is None else Account.objects.filter(pk=account_id)
    written = 0
    for account in accounts.only("pk", "time_zone"):
        DailyCounter.objects.filter(account=account).delete()
        CategoryCounter.objects.filter(account=account).delete()
        events = (
            MessageEvent.objects.filter(account=account, type__in=EventType.values)
            .values_list(
                "message_id",
                "type",
                "at",
                "message__envelope__sender_id",
                "message__envelope__tag_name",
                "detail__reason",
                "message__envelope__open_trace",
                "message__envelope__click_trace",
                "message__rcpt_domain",
                "detail__category",
            )
            .order_by("pk")
        )
        seen: set[tuple[int, str]] = set()
        hits = []
        categories = []
        for (
            message_id,
            kind,
            at,
            sender_id,
            tag_name,
            reason,
            opens,
            clicks,
            domain,
            category,
        ) in events.iterator(chunk_size=5000):
            if category and kind in CATEGORY_FIELD_OF:
                categories.append((account.pk, account.time_zone, at, category, kind))
            first = False
            if kind in _UNIQUE and (message_id, kind) not in seen:
                seen.add((message_id, kind))
                first = True
            key = (account.pk, account.time_zone, sender_id, tag_name, at)
            tracked = kind == "delivered" and bool(opens or clicks)
            hits.append(Hit(*key, kind, first=first, tracked=tracked, esp=esp_of(domain)))
            if kind == "accepted":
                hits.append(Hit(*key, "sent", esp=esp_of(domain)))  # queued, unless suppressed at acceptance:
            elif kind == "invalid" and reason == "suppressed":
                hits.append(Hit(*key, "sent", count=-1, esp=esp_of(domain)))
        add(hits)
        add_categories(categories)
        written += DailyCounter.objects.filter(account=account).count()
    return written


def totals(rows) -> dict[str, int]:
    """The counters summed over rows of DailyCounter (a queryset or a list)."""
    sums = dict.fromkeys(COUNTER_FIELDS, 0)
    for row in rows:
        for field in COUNTER_FIELDS:
            sums[field] += getattr(row, field)
    return sums
