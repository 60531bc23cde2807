"""How fast and how many at once we send to a mailbox provider from one egress address (mx mode; the
provider from sending.providers), kept across every worker and host through the database.

Limits per provider x egress address: `connections` (concurrent sessions: ShapingSlot rows a session
holds while its worker renews them), `per_connection` (messages before the session closes and another
opens), `per_second` (each session paces at per_second / connections, so all of them together stay
under it without a shared write per message), `per_minute`, `per_hour`, `per_day` (ShapingCounter rows
per window, taken a few messages at a time in one transaction). 0 or absent: no limit.

Where a limit comes from, last wins: DEFAULTS["*"], DEFAULTS[provider], then env DELIVERY_PROVIDER_LIMITS
(JSON: "*", a provider's name, or "name@address" for one egress address), then staff's ProviderLimit rows
in Django admin (every provider, the provider, the provider at the address). A reply rule that lowers the
rate (sending.shaping) scales every limit by its fraction while it lasts. Waiting for a limit never
fails mail and costs it no attempt (the worker gives it back; sending.delivery.worker).
"""

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from sending.models import ProviderLimit, ShapingCounter, ShapingSlot

KEYS = ("connections", "per_connection", "per_second", "per_minute", "per_hour", "per_day")
UNITS = {"per_minute": ("minute", 60), "per_hour": ("hour", 3600), "per_day": ("day", 86400)}

# Shipped limits per egress address. Providers publish few numbers; these are conservative for an
# address with a sending history (a new one is held lower by its warm-up, sending.warmup) and follow
# KumoMTA's community shaping file (kumomta/kumomta assets/policy-extras/shaping.toml) where it has one.
DEFAULTS: dict[str, dict[str, int]] = {
    # Anything else ("other:<MX domain>"): KumoMTA's default site, 10 connections, 100 per connection.
    "*": {"connections": 10, "per_connection": 100, "per_second": 20},
    # Google asks for a steady rate without bursts and publishes no number
    # (support.google.com/a/answer/81126); KumoMTA ships 100 per connection for it.
    "gmail": {"connections": 10, "per_connection": 100, "per_second": 25},
    # Microsoft answers "4.3.2 too many concurrent connections" above a handful per address
    # (learn.microsoft.com, Outlook.com postmaster, "Troubleshooting"); KumoMTA: 20 per connection.
    "microsoft": {"connections": 5, "per_connection": 20, "per_second": 10},
    # Yahoo defers with TS01/TSS04 on volume spikes and asks for few, well-used connections
    # (senders.yahooinc.com/best-practices); KumoMTA: 20 per connection.
    "yahoo": {"connections": 5, "per_connection": 20, "per_second": 10},
    # Apple publishes nothing; the same as Microsoft's.
    "apple": {"connections": 5, "per_connection": 20, "per_second": 10},
    # QQ / Tencent answers "frequency limited" quickly (service.mail.qq.com); Chinese senders' common
    # practice is a few connections and some hundreds a minute per address.
    "qq": {"connections": 3, "per_connection": 20, "per_second": 5, "per_minute": 200},
    # NetEase: HL:IFC / HL:ICC for too many messages or connections from one IP (help.mail.163.com).
    "netease": {"connections": 3, "per_connection": 20, "per_second": 5, "per_minute": 200},
    "sina": {"connections": 3, "per_connection": 20, "per_second": 5},
    "sohu": {"connections": 3, "per_connection": 20, "per_second": 5},
    "aliyun": {"connections": 3, "per_connection": 20, "per_second": 5},
    # Mail.ru asks for a steady flow and limits by reputation (help.mail.ru/developers/mailing_rules).
    "mailru": {"connections": 5, "per_connection": 50, "per_second": 10},
    "yandex": {"connections": 5, "per_connection": 50, "per_second": 10},
    # GMX / WEB.DE: few connections per address (postmaster.gmx.net); KumoMTA: 1-2 per address.
    "gmx": {"connections": 2, "per_connection": 50, "per_second": 5},
    # Comcast: RL000001 "too many connections" above a few per address (postmaster.comcast.net).
    "comcast": {"connections": 2, "per_connection": 50, "per_second": 5},
}


@dataclass(frozen=True)
class Limits:
    connections: int = 0
    per_connection: int = 0
    per_second: float = 0
    per_minute: int = 0
    per_hour: int = 0
    per_day: int = 0
    fraction: float = 1.0  # below 1 while a rule lowers the rate

    def scaled(self, fraction: float) -> "Limits":
        """The limits at `fraction` of themselves (each at least 1 where there is one)."""
        if fraction >= 1:
            return self

        def down(value):
            return max(1, math.floor(value * fraction)) if value else 0

        return replace(
            self,
            connections=down(self.connections),
            per_second=max(0.1, self.per_second * fraction) if self.per_second else 0,
            per_minute=down(self.per_minute), per_hour=down(self.per_hour), per_day=down(self.per_day),
            fraction=fraction,
        )  # fmt: skip

    @property
    def pace(self) -> float:
        """Messages per second one session may send."""
        if not self.per_second:
            return 0
        return self.per_second / max(1, self.connections)


_overrides: tuple[float, list[ProviderLimit]] = (0.0, [])
OVERRIDES_TTL = 30.0  # staff's changes reach every worker within this


def clear_cache() -> None:
    global _overrides
    _overrides = (0.0, [])


def _admin_rows() -> list[ProviderLimit]:
    global _overrides
    if _overrides[0] < time.monotonic():
        _overrides = (time.monotonic() + OVERRIDES_TTL, list(ProviderLimit.objects.all()))
    return _overrides[1]


def _configured(provider: str, egress_ip: str) -> dict[str, float]:
    layers: list[dict] = [DEFAULTS["*"], DEFAULTS.get(provider, {})]
    env = settings.DELIVERY_PROVIDER_LIMITS
    layers += [env.get("*", {}), env.get(provider, {})]
    if egress_ip:
        layers.append(env.get(f"{provider}@{egress_ip}", {}))
    rows = _admin_rows()
    for wanted in (("*", None), (provider, None), (provider, egress_ip or "-")):
        for row in rows:
            if (row.provider, row.egress_ip) == wanted:
                layers.append({k: getattr(row, k) for k in KEYS if getattr(row, k) is not None})
    merged: dict[str, float] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if k in KEYS})
    return merged


def limits_for(provider: str, egress_ip: str = "", fraction: float = 1.0) -> Limits:
    """The limits in force for mail to `provider` from `egress_ip` ("" : the address the system picks)."""
    found = _configured(provider, egress_ip)
    return Limits(
        connections=int(found.get("connections") or 0), per_connection=int(found.get("per_connection") or 0),
        per_second=float(found.get("per_second") or 0), per_minute=int(found.get("per_minute") or 0),
        per_hour=int(found.get("per_hour") or 0), per_day=int(found.get("per_day") or 0),
    ).scaled(fraction)  # fmt: skip


def check_settings(app_configs=None, **kwargs) -> list:
    """System check: DELIVERY_PROVIDER_LIMITS and DELIVERY_DOMAIN_LIMITS hold limits we know."""
    from django.core import checks

    found = []
    for name in ("DELIVERY_PROVIDER_LIMITS", "DELIVERY_DOMAIN_LIMITS"):
        for problem in check_setting(getattr(settings, name)):
            found.append(checks.Error(f"{name}: {problem}", id="sending.E010"))
    return found


def check_setting(value: dict) -> list[str]:
    """What is wrong with a DELIVERY_PROVIDER_LIMITS value (for the system check)."""
    problems = []
    if not isinstance(value, dict):
        return ["expected a JSON object"]
    for key, entry in value.items():
        if not isinstance(entry, dict):
            problems.append(f"{key}: expected an object of limits")
            continue
        for name, number in entry.items():
            if name not in KEYS:
                problems.append(f"{key}: unknown limit {name!r} (known: {', '.join(KEYS)})")
            elif not isinstance(number, int | float) or number < 0:
                problems.append(f"{key}.{name}: expected a number >= 0")
    return problems


# --- connections -------------------------------------------------------------------------------------


def take_slot(provider: str, egress_ip: str, limits: Limits, owner: str) -> bool:
    """Hold one of the provider x address's connections for `owner` (False: all are in use). A slot
    whose worker stopped renewing it is free again after DELIVERY_SESSION_ALIVE."""
    if not limits.connections:
        return True
    numbers = range(limits.connections)
    ShapingSlot.objects.bulk_create(
        [ShapingSlot(provider=provider, egress_ip=egress_ip, number=n) for n in numbers],
        ignore_conflicts=True,
    )
    now = timezone.now()
    alive = now + timedelta(seconds=settings.DELIVERY_SESSION_ALIVE)
    free = Q(owner="") | Q(alive_until__lt=now)
    for number in numbers:
        # The conditional UPDATE is the claim: a slot another worker took no longer matches `free`.
        if ShapingSlot.objects.filter(free, provider=provider, egress_ip=egress_ip, number=number).update(
            owner=owner, alive_until=alive
        ):
            return True
    return False


def renew_slots(owner: str) -> None:
    ShapingSlot.objects.filter(owner=owner).update(
        alive_until=timezone.now() + timedelta(seconds=settings.DELIVERY_SESSION_ALIVE)
    )


def release_slots(owner: str) -> None:
    ShapingSlot.objects.filter(owner=owner).update(owner="", alive_until=None)


def sessions_open(provider: str) -> dict[str, int]:
    """Live sessions per egress address to a provider (for the queue page)."""
    found: dict[str, int] = {}
    for ip in (
        ShapingSlot.objects.filter(provider=provider, alive_until__gt=timezone.now())
        .exclude(owner="")
        .values_list("egress_ip", flat=True)
    ):
        found[ip] = found.get(ip, 0) + 1
    return found


# --- minute, hour and day --------------------------------------------------------------------------


def _windows(limits: Limits, at: float) -> list[tuple[str, int, int, float]]:
    """(unit, window, limit, when the window ends) for each of the limits' units that has a limit."""
    found: list[tuple[str, int, int, float]] = []
    for key, (unit, seconds) in UNITS.items():
        limit = getattr(limits, key)
        if limit:
            window = int(at // seconds)
            found.append((unit, window, limit, (window + 1) * seconds))
    return found


@dataclass
class Budget:
    """What one session may still send this minute, hour and day, taken from the shared counters a
    few messages at a time (`CHUNK`) and given back at the end if unused."""

    provider: str
    egress_ip: str
    limits: Limits
    left: int = 0
    windows: list[tuple[str, int]] = field(default_factory=list)  # those the last grant counted in
    CHUNK = 10

    def take(self, wanted: int, clock=time.time) -> datetime | None:
        """One message's worth; None when granted, else when the first exhausted window ends."""
        if self.left:
            self.left -= 1
            return None
        windows = _windows(self.limits, clock())
        if not windows:
            return None
        want = max(1, min(self.CHUNK, wanted))
        keys = dict(provider=self.provider, egress_ip=self.egress_ip)
        ShapingCounter.objects.bulk_create(
            [ShapingCounter(**keys, unit=u, window=w) for u, w, _l, _e in windows], ignore_conflicts=True
        )
        with transaction.atomic():
            rows = ShapingCounter.objects.filter(_any_window(windows), **keys)
            rows.update(count=F("count"))  # a write first: it locks the rows (or the database) before reading
            counts = {(r.unit, r.window): r.count for r in rows}
            grant = want
            for unit, window, limit, _end in windows:
                grant = min(grant, limit - counts.get((unit, window), 0))
            if grant <= 0:
                ends = [end for u, w, limit, end in windows if counts.get((u, w), 0) >= limit]
                return datetime.fromtimestamp(min(ends), tz=UTC)
            rows.update(count=F("count") + grant)
        self.windows = [(unit, window) for unit, window, _l, _e in windows]
        self.left = grant - 1
        return None

    def give_back(self) -> None:
        """Return what was taken and not sent."""
        if self.left:
            ShapingCounter.objects.filter(
                _any_window((u, w, 0, 0.0) for u, w in self.windows),
                provider=self.provider,
                egress_ip=self.egress_ip,
            ).update(count=F("count") - self.left)
        self.left = 0


def _any_window(windows: Iterable[tuple[str, int, int, float]]) -> Q:
    query = Q(pk__in=[])
    for unit, window, _limit, _end in windows:
        query |= Q(unit=unit, window=window)
    return query


def used(provider: str, egress_ip: str, limits: Limits, clock=time.time) -> dict[str, int]:
    """Messages counted in the current minute, hour and day (for the queue page)."""
    found = {}
    for unit, window, _limit, _end in _windows(limits, clock()):
        found[unit] = (
            ShapingCounter.objects.filter(provider=provider, egress_ip=egress_ip, unit=unit, window=window)
            .values_list("count", flat=True)
            .first()
            or 0
        )
    return found


def prune(before_days: int = 2) -> int:
    """Delete counters of windows that ended more than `before_days` ago (the retention task)."""
    cutoff = time.time() - before_days * 86400
    deleted = 0
    for unit, seconds in UNITS.values():
        deleted += ShapingCounter.objects.filter(unit=unit, window__lt=int(cutoff // seconds)).delete()[0]
    return deleted
