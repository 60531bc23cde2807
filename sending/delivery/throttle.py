"""Throttling: how fast and how many at once we send to a destination domain, and per account.

Big receivers slow down or block senders that open many connections or send in bursts, so per destination
domain there is a cap on concurrent sessions (counted from live leases in the database, so it holds across
workers and machines) and a pace per session. In mx mode a domain that a known mailbox provider serves
(sending.providers) has no cap of its own unless DELIVERY_DOMAIN_LIMITS names it: the provider's limits
per egress address (sending.provider_limits) hold instead, across all the domains it serves. Per account,
a cap on messages per second (a counter per second in the shared cache). Throttled mail waits; it never
fails for it.
"""

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from sending.models import Message, MessageState


def domain_limits(domain: str, provider: str = "") -> dict[str, float]:
    """The domain's own caps ("connections", "per_second"); {} for a domain a named provider serves
    (`provider`, in mx mode) that DELIVERY_DOMAIN_LIMITS does not name."""
    limits = settings.DELIVERY_DOMAIN_LIMITS
    own = limits.get(domain.lower())
    if own is None and provider and not provider.startswith("other:"):
        return {}
    return {**limits["*"], **(own or {})}


def active_sessions(domain: str) -> int:
    """Sessions to `domain` now: distinct leases on its messages that their worker renewed in the last
    DELIVERY_SESSION_ALIVE seconds (a lease runs DELIVERY_LEASE from its last renewal). A dead worker's
    lease stops counting then, although its messages wait for the whole lease before anyone sends them
    again (a slow send of a live worker must not be sent twice)."""
    fresh = timezone.now() + timedelta(
        seconds=max(0, settings.DELIVERY_LEASE - settings.DELIVERY_SESSION_ALIVE)
    )
    return (
        Message.objects.filter(state=MessageState.SENDING, rcpt_domain=domain, lease_until__gt=fresh)
        .values("lease_owner")
        .distinct()
        .count()
    )


def renew_lease(token: str) -> None:
    """The worker holding `token` is alive: its leases run DELIVERY_LEASE from now."""
    Message.objects.filter(lease_owner=token, state=MessageState.SENDING).update(
        lease_until=timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE)
    )


def may_open_session(domain: str, provider: str = "") -> bool:
    connections = domain_limits(domain, provider).get("connections")
    return not connections or active_sessions(domain) < connections


class Pacer:
    """Spaces sends at most `per_second` apart; `clock` and `sleep` are injectable for tests."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at = 0.0

    def wait(self) -> None:
        now = self.clock()
        if now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


# Per process: slots of the current second already reserved in the shared counter, per account.
_allowance: dict[int, tuple[int, int]] = {}
CHUNK = 10


def account_slot(account_id: int, sleep=time.sleep, clock=time.time) -> None:
    """Wait until this account may send one more message in the current second.

    Slots are reserved from the shared per-second counter ten at a time, so the cache is written once per
    ten messages, not once per message; slots left at the end of a second are simply not used.
    """
    limit = settings.DELIVERY_ACCOUNT_PER_SECOND
    if not limit:
        return
    while True:
        second = int(clock())
        held_second, left = _allowance.get(account_id, (second, 0))
        if held_second == second and left > 0:
            _allowance[account_id] = (second, left - 1)
            return
        chunk = min(CHUNK, limit)
        key = f"throttle:account:{account_id}:{second}"
        cache.add(key, 0, timeout=5)
        try:
            count = cache.incr(key, chunk)
        except ValueError:  # expired between add and incr
            continue
        granted = max(0, min(chunk, limit - (count - chunk)))
        if granted:
            _allowance[account_id] = (second, granted - 1)
            return
        sleep(max(0.01, second + 1 - clock()))
