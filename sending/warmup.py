"""Warm-up: how much a sending address may carry today to each mailbox provider, and taking it.

Receivers judge a new address by its first weeks: a few hundred messages a day that people want, then more.
A system-managed address (WarmupType.SYSTEM) has a daily cap per provider that follows CURVE, one step a
day; a customer-managed one has none. Every address keeps a WarmupDay per provider and UTC day with what it
carried, whatever its type, so the console and GetDedicatedIpWarmUpDetail show the history, and an address
switched to the system later starts where its history puts it.

A day advances the step when the address sent on it and the receivers did not object: deferrals, bounces or
complaints above the THRESHOLDS hold the step (the next day gets the same cap, and says why). A day without
sending holds it too, silently: there was nothing to judge.

The delivery worker reserves capacity before it connects (`reserve`, in one transaction that locks the
day's rows, so many workers on many hosts never take more than the cap together) and settles afterwards
(`settle`): what it did not use is given back, and what the receivers answered is counted for the verdict.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sending.esp import ESPS, esp_of
from sending.models import EgressAddress, WarmupDay, WarmupType

# The daily cap of each step, per provider, for about 30 days; after the last step an address has no cap.
# Our own numbers, shaped like the warm-up schedules mailbox providers and sending services publish
# (Gmail's and Microsoft's sender guidelines ask for a gradual ramp; SendGrid's, Mailgun's and Amazon SES's
# public schedules start with tens to a few hundred messages a day and roughly double in the first week,
# then grow more slowly): start small, double early, then +20-30% a day up to 300,000 a day per provider.
CURVE: tuple[int, ...] = (
    50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000,
    4_000, 5_000, 6_500, 8_000, 10_000, 12_500, 15_000, 20_000, 25_000, 30_000,
    40_000, 50_000, 65_000, 80_000, 100_000, 125_000, 150_000, 200_000, 250_000, 300_000,
)  # fmt: skip

# "others" is every other provider together (sending.esp), so it may carry twice as much.
SCALE: dict[str, float] = {"others": 2.0}

# Over any of these on a day at a provider, the next day keeps the step (fractions of what was sent).
THRESHOLDS: dict[str, float] = {"deferred": 0.20, "bounced": 0.05, "complained": 0.003}

# The weight of an address without a cap (or with much left) in the round robin.
_FULL_WEIGHT = 1_000
_current: dict[int, float] = {}  # smooth weighted round robin state, per address id, per process


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def next_day_starts() -> datetime:
    """When today's caps end: the next midnight, UTC."""
    return datetime.combine(today() + timedelta(days=1), time.min, tzinfo=UTC)


def cap_of(step: int, esp: str) -> int | None:
    """The cap of a step at a provider; None past the curve (warmed up)."""
    if step >= len(CURVE):
        return None
    return int(CURVE[step] * SCALE.get(esp, 1.0))


def verdict(row: WarmupDay) -> str:
    """Why a day held the step ("" when it advances it)."""
    if not row.sent:
        return ""
    for counter, limit in THRESHOLDS.items():
        share = getattr(row, counter) / row.sent
        if share > limit:
            return f"{counter} {share:.1%} of {row.sent} at {row.esp} on {row.day.isoformat()}"
    return ""


def _first_row(address_id: int, esp: str, day: date) -> WarmupDay:
    """The day's row as the history puts it: the step after the last day that sent and was not held."""
    last = WarmupDay.objects.filter(address_id=address_id, esp=esp, day__lt=day).order_by("-day").first()
    step, held = 0, ""
    if last is not None:
        held = verdict(last)
        step = last.step + (1 if last.sent and not held else 0)
    return WarmupDay(address_id=address_id, esp=esp, day=day, step=step, cap=cap_of(step, esp), held=held)


def day_rows(address_ids: Sequence[int], esp: str, day: date | None = None) -> dict[int, WarmupDay]:
    """Each address's row for the day at the provider, made when it is the first of the day."""
    day = day or today()
    found = {r.address_id: r for r in WarmupDay.objects.filter(address_id__in=address_ids, esp=esp, day=day)}
    for address_id in address_ids:
        if address_id not in found:
            try:
                with transaction.atomic():
                    row = _first_row(address_id, esp, day)
                    row.save()
                    found[address_id] = row
            except IntegrityError:  # another worker made it first
                found[address_id] = WarmupDay.objects.get(address_id=address_id, esp=esp, day=day)
    return found


def left_today(entry: EgressAddress, row: WarmupDay) -> int | None:
    """What the address may still carry today at the row's provider (None: no cap)."""
    if entry.warmup != WarmupType.SYSTEM or row.cap is None:
        return None
    return max(0, row.cap - row.sent)


@dataclass(frozen=True)
class Reservation:
    address_id: int
    esp: str
    day: date
    count: int


def reserve(entries: Sequence[EgressAddress], esp: str, count: int) -> tuple[list[Reservation], int]:
    """Take up to `count` messages' worth of today's capacity among the addresses, in weighted round robin
    by what each has left (one message at a time, so a batch spreads over the pool); returns what each
    address took, in the order of the entries, and how many found no room."""
    if not entries or count <= 0:
        return [], count
    day = today()
    ids = [e.pk for e in entries]
    day_rows(ids, esp, day)
    with transaction.atomic():
        # A write first: it locks the rows (PostgreSQL) or the database (SQLite) before they are read,
        # so two workers never both take the last of a cap.
        WarmupDay.objects.filter(address_id__in=ids, esp=esp, day=day).update(sent=F("sent"))
        rows = {r.address_id: r for r in WarmupDay.objects.filter(address_id__in=ids, esp=esp, day=day)}
        left = {e.pk: left_today(e, rows[e.pk]) for e in entries}
        weights = {pk: min(_FULL_WEIGHT, n) if n is not None else _FULL_WEIGHT for pk, n in left.items()}
        taken = dict.fromkeys(ids, 0)
        remaining = count
        while remaining:
            usable = [pk for pk in ids if left[pk] is None or left[pk] > 0]  # type: ignore[operator]
            if not usable:
                break
            total = sum(weights[pk] for pk in usable)
            for pk in usable:
                _current[pk] = _current.get(pk, 0.0) + weights[pk]
            chosen = max(usable, key=lambda pk: (_current[pk], -ids.index(pk)))
            _current[chosen] -= total
            taken[chosen] += 1
            if left[chosen] is not None:
                left[chosen] -= 1  # type: ignore[operator]
            remaining -= 1
        for pk, n in taken.items():
            if n:
                WarmupDay.objects.filter(address_id=pk, esp=esp, day=day).update(sent=F("sent") + n)
    return [Reservation(pk, esp, day, n) for pk, n in taken.items() if n], remaining


def settle(reservation: Reservation, used: int, delivered: int, deferred: int, bounced: int) -> None:
    """After the session: give back what was not handed over, count what the receivers answered."""
    row = WarmupDay.objects.filter(
        address_id=reservation.address_id, esp=reservation.esp, day=reservation.day
    )
    row.update(
        sent=F("sent") - max(0, reservation.count - used),
        delivered=F("delivered") + delivered,
        deferred=F("deferred") + deferred,
        bounced=F("bounced") + bounced,
    )


def on_complaints(events: Sequence, at: datetime) -> None:
    """sending.events listener for "complained": each complaint counts on the day (UTC) and provider of the
    address its message was delivered from, for that day's verdict."""
    from sending.models import DeliveryAttempt, MessageState

    ids = [event.message.pk for event in events]
    delivered = DeliveryAttempt.objects.filter(message_id__in=ids, result=MessageState.DELIVERED)
    delivered = delivered.exclude(egress_ip=None).select_related("message")
    for attempt in delivered:
        day = attempt.at.astimezone(UTC).date()
        WarmupDay.objects.filter(
            address__address=attempt.egress_ip, esp=esp_of(attempt.message.rcpt_domain), day=day
        ).update(complained=F("complained") + 1)


def progress(entry: EgressAddress) -> list[dict]:
    """Per provider, today: the step, the cap in force (None: no cap), what was sent, whether the curve is
    done, why the step was held — for the console and GetDedicatedIpWarmUpInfo. Reads only."""
    day = today()
    found = {r.esp: r for r in WarmupDay.objects.filter(address=entry, day=day)}
    result = []
    for esp in ESPS:
        row = found.get(esp) or _first_row(entry.pk, esp, day)
        result.append(
            {
                "esp": esp,
                "step": row.step,
                "steps": len(CURVE),
                "cap": row.cap if entry.warmup == WarmupType.SYSTEM else None,
                "sent": row.sent,
                "finished": row.cap is None,
                "held": row.held,
            }
        )
    return result
