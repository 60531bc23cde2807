"""Reacting to what receivers answer, and holds an operator puts on the queue.

A deferral that a reply rule (staff's ShapingRule rows, then the shipped rules of sending.shaping_rules)
reads as "stop" suspends the provider x egress address for the rule's duration; "lower" makes it send at a
fraction of its limits (sending.provider_limits) for that long; "classify" only names the reply's class.
An operator's hold (the Queue page, `manage.py queue suspend`) names any of provider, destination domain,
egress address, account and batch send, and holds the mail that matches all of them.

Held mail is not attempted: the worker gives it back until the hold ends, without spending an attempt or
bringing its give-up time closer (sending.delivery.worker). Every hold keeps why (the reply, or the
operator's reason), since when and until when.
"""

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from sending.models import Message, ShapingRule, Suspension
from sending.shaping_rules import LOWER, RULES, SUSPEND, Rule

log = logging.getLogger(__name__)

HELD_PREFIX = "suspended"  # how a held message's last_error starts (the queue counts them by it)


@dataclass(frozen=True)
class Held:
    until: datetime
    reason: str


# --- rules -----------------------------------------------------------------------------------------

_rules: tuple[float, tuple[Rule, ...]] = (0.0, ())
RULES_TTL = 30.0  # staff's new rules reach every worker within this


def _clear_rules(**_kwargs) -> None:
    global _rules
    _rules = (0.0, ())


post_save.connect(_clear_rules, sender=ShapingRule)
post_delete.connect(_clear_rules, sender=ShapingRule)


def rule_of(row: ShapingRule) -> Rule:
    return Rule(
        name=row.name, provider=row.provider, pattern=row.pattern, action=row.action,
        duration=row.duration or Rule.duration, fraction=row.fraction, code=row.code,
        enhanced=row.enhanced, kind=row.kind,
    )  # fmt: skip


def staff_rules() -> tuple[Rule, ...]:
    global _rules
    if _rules[0] < time.monotonic():
        found = []
        for row in ShapingRule.objects.filter(enabled=True).order_by("name"):
            try:
                re.compile(row.pattern)
            except re.error:
                log.warning("reply rule %s has a bad pattern; ignored", row.name)
                continue
            found.append(rule_of(row))
        _rules = (time.monotonic() + RULES_TTL, tuple(found))
    return _rules[1]


def all_rules() -> tuple[Rule, ...]:
    """Staff's rules, then the shipped ones."""
    return staff_rules() + RULES


def classify(
    provider: str, code: int | None, text: str, rules: tuple[Rule, ...] | None = None
) -> Rule | None:
    """The first rule that matches a reply: a provider's own rules before the ones for any provider,
    staff's before the shipped ones within each."""
    ordered = sorted(all_rules() if rules is None else rules, key=lambda rule: rule.provider == "")
    return next((rule for rule in ordered if rule.matches(provider, code, text)), None)


# --- receivers' answers ------------------------------------------------------------------------------


def _active(**keys) -> "Q":
    return Q(until__gt=timezone.now(), **keys)


def suspended(provider: str, egress_ip: str) -> Held | None:
    """The receiver's suspension in force for mail to the provider from the address, if any (the
    longest; operators' holds: `operator_holds`)."""
    found = (
        Suspension.objects.filter(
            _active(action=Suspension.Action.SUSPEND),
            origin=Suspension.Origin.REPLY,
            provider=provider,
            egress_ip=egress_ip,
        )
        .order_by("-until")
        .first()
    )
    return Held(found.until, reason(found)) if found else None


def fraction(provider: str, egress_ip: str) -> float:
    """The share of its limits the provider x address sends at now (the lowest of the rules' in force)."""
    lowered = Suspension.objects.filter(
        _active(action=Suspension.Action.LOWER), provider=provider, egress_ip=egress_ip
    ).values_list("fraction", flat=True)
    return min([1.0, *lowered])


def reason(entry: Suspension) -> str:
    """Why the mail waits, as its log shows it."""
    until = f"{entry.until:%Y-%m-%d %H:%M} UTC"
    if entry.origin == Suspension.Origin.OPERATOR:
        keys = ", ".join(f"{k} {v}" for k, v in entry.keys().items())
        why = f": {entry.reply[:200]}" if entry.reply else ""
        return f"{HELD_PREFIX} by {entry.created_by or 'an operator'} ({keys}) until {until}{why}"
    return (
        f"{HELD_PREFIX}: {entry.provider} from {entry.egress_ip or 'this host'} until {until} "
        f"({entry.rule}: {entry.reply[:200]})"
    )


def react(provider: str, egress_ip: str, code: int | None, text: str) -> tuple[Rule | None, Held | None]:
    """Apply the first rule matching a reply: SUSPEND suspends the provider x address (extending a shorter
    suspension in force) and returns the hold; LOWER lowers its rate for the rule's duration; returns the
    rule (for the reply's class) and the hold, if any."""
    rule = classify(provider, code, text)
    if rule is None or rule.action not in (SUSPEND, LOWER):
        return rule, None
    now = timezone.now()
    until = now + rule.duration
    action = Suspension.Action.SUSPEND if rule.action == SUSPEND else Suspension.Action.LOWER
    keys = dict(origin=Suspension.Origin.REPLY, provider=provider, egress_ip=egress_ip, action=action)
    current = Suspension.objects.filter(_active(**keys)).order_by("-until").first()
    if current is not None:
        if current.until < until or (action == Suspension.Action.LOWER and rule.fraction < current.fraction):
            current.until, current.reply, current.rule = max(until, current.until), text[:2000], rule.name
            current.fraction = min(current.fraction, rule.fraction)
            Suspension.objects.filter(pk=current.pk).update(
                until=current.until, reply=current.reply, rule=rule.name, fraction=current.fraction
            )
    else:
        current = Suspension.objects.create(
            **keys, rule=rule.name, reply=text[:2000], since=now, until=until,
            fraction=rule.fraction if action == Suspension.Action.LOWER else 1.0,
        )  # fmt: skip
        log.warning("%s %s from %s until %s: %s", action, provider, egress_ip or "-", until, text[:200])
    if action == Suspension.Action.LOWER:
        return rule, None
    return rule, Held(current.until, reason(current))


# --- operators' holds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """An operator's hold, as the worker matches it against the mail of a batch."""

    entry: Suspension
    envelope_id: int | None

    def matches(self, message: Message, provider: str | None, source: str | None) -> bool:
        """Whether the hold applies; `provider` or `source` None: not known yet (a hold that names it
        does not match yet)."""
        e = self.entry
        if e.account_id and e.account_id != message.account_id:
            return False
        if e.batch_id and self.envelope_id != message.envelope_id:
            return False
        if e.rcpt_domain and e.rcpt_domain != message.rcpt_domain:
            return False
        if e.provider and e.provider != provider:
            return False
        return not e.egress_ip or e.egress_ip == source

    @property
    def held(self) -> Held:
        return Held(self.entry.until, reason(self.entry))


def operator_holds() -> list[Hold]:
    """The operators' holds in force (the worker matches each message against them)."""
    active = _active(origin=Suspension.Origin.OPERATOR, action=Suspension.Action.SUSPEND)
    entries = Suspension.objects.filter(active).select_related("account", "batch")
    return [Hold(e, e.batch.envelope_id if e.batch_id else None) for e in entries]  # type: ignore[union-attr]
