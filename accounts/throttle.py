"""Limits on password guessing, shared by console log-in, password confirmation and SMTP AUTH.

Each scope (a client address, a login) may have at most `limit` failed attempts in a window of `window`
seconds, counted from its first one. A check takes its place in the count *before* the password is
compared, with one conditional UPDATE (atomic on SQLite and PostgreSQL alike, and seen by every process),
and gives it back when the password was right: so parallel attempts cannot run more checks than the limit,
and the window is exactly the configured one.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_noop, ngettext

from accounts.audit import Actor, audit_record
from accounts.models import LoginThrottle, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    """One count: `name` (e.g. "smtp-ip:203.0.113.7"), at most `limit` failures in `window` seconds."""

    name: str
    limit: int
    window: int


def attempt_take(scope: Scope) -> bool:
    """Count one attempt of `scope`; False (and nothing counted) when its limit is reached."""
    now = timezone.now()
    name = scope.name[:300]
    LoginThrottle.objects.bulk_create(
        [LoginThrottle(scope=name, attempts=0, window_ends_at=now + timedelta(seconds=scope.window))],
        ignore_conflicts=True,
    )
    expired = Q(window_ends_at__lte=now)
    return bool(
        LoginThrottle.objects.filter(Q(scope=name) & (expired | Q(attempts__lt=scope.limit))).update(
            attempts=Case(When(expired, then=Value(1)), default=F("attempts") + 1),
            window_ends_at=Case(
                When(expired, then=Value(now + timedelta(seconds=scope.window))), default=F("window_ends_at")
            ),
        )
    )


def attempt_give_back(scope: Scope) -> None:
    """The attempt `attempt_take` counted did not fail (the password was right, or it was never checked)."""
    LoginThrottle.objects.filter(scope=scope.name[:300], attempts__gt=0).update(attempts=F("attempts") - 1)


def attempts_take(scopes: list[Scope]) -> Scope | None:
    """Count one attempt in each scope; the first scope whose limit is reached (then none is counted)."""
    taken: list[Scope] = []
    for scope in scopes:
        if not attempt_take(scope):
            for other in taken:
                attempt_give_back(other)
            return scope
        taken.append(scope)
    return None


def throttles_purge() -> int:
    """Forget counts whose window ended a day ago."""
    deleted, _per_model = LoginThrottle.objects.filter(
        window_ends_at__lt=timezone.now() - timedelta(days=1)
    ).delete()
    return deleted


# -- the console: log-in and password confirmation


def console_scopes(login: str, ip: str | None) -> list[Scope]:
    """What a console password attempt counts against: the login (whoever tries it) and the address."""
    window = settings.LOGIN_FAILURE_WINDOW
    return [
        Scope(f"login-user:{login.strip().lower()}", settings.LOGIN_FAILURES_PER_USER, window),
        Scope(f"login-ip:{ip or 'unknown'}", settings.LOGIN_FAILURES_PER_IP, window),
    ]


def console_refusal() -> ValidationError:
    minutes = max(1, settings.LOGIN_FAILURE_WINDOW // 60)
    return ValidationError(
        ngettext(
            "Too many failed attempts. Try again in %(minutes)s minute.",
            "Too many failed attempts. Try again in %(minutes)s minutes.",
            minutes,
        )
        % {"minutes": minutes},
        code="throttled",
    )


def console_failed(scopes: list[Scope], *, login: str, ip: str | None) -> None:
    """After a wrong password: when it used up a scope's last attempt, the audit log of every account the
    login belongs to says so (a lock beginning, not each attempt)."""
    locked = [
        scope
        for scope in scopes
        if LoginThrottle.objects.filter(scope=scope.name[:300], attempts__gte=scope.limit).exists()
    ]
    if not locked:
        return
    log.warning("password attempts locked for %s", ", ".join(scope.name for scope in locked))
    user = User.objects.filter(email__iexact=login.strip()).first()
    if user is None:
        return
    for membership in user.memberships.select_related("account"):
        audit_record(
            actor=Actor(ip=ip, name=gettext_noop("anonymous")),
            action="user.login_locked",
            account=membership.account,
            target=user,
            details={
                "locked": [scope.name.partition(":")[0] for scope in locked],
                "minutes": settings.LOGIN_FAILURE_WINDOW // 60,
            },
        )
