"""Reacting to what receivers answer (issue 25, in part): a reply that a rule of sending.shaping_rules
says means "stop" suspends the provider x egress address for the rule's duration. Suspended mail is not
attempted: the worker holds it until the suspension ends, without spending an attempt or bringing its
give-up time closer. Lowering the rate, limits per provider and queue control come with the rest of the
shaping work; those rules only classify for now.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from sending.models import Suspension
from sending.shaping_rules import SUSPEND, classify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    until: datetime
    reason: str


def suspended(provider: str, egress_ip: str) -> Held | None:
    """The suspension in force for mail to the provider from the address, if any (the longest)."""
    found = (
        Suspension.objects.filter(provider=provider, egress_ip=egress_ip, until__gt=timezone.now())
        .order_by("-until")
        .first()
    )
    return Held(found.until, _reason(found)) if found else None


def _reason(entry: Suspension) -> str:
    return (
        f"suspended: {entry.provider} from {entry.egress_ip or 'this host'} until "
        f"{entry.until:%Y-%m-%d %H:%M} UTC ({entry.rule}: {entry.reply[:200]})"
    )


def react(provider: str, egress_ip: str, code: int | None, text: str) -> Held | None:
    """Apply the first rule matching a reply: a SUSPEND rule suspends the provider x address (extending a
    shorter suspension in force) and returns the hold; other rules only classify (None)."""
    rule = classify(provider, code, text)
    if rule is None or rule.action != SUSPEND:
        return None
    now = timezone.now()
    until = now + rule.duration
    current = Suspension.objects.filter(provider=provider, egress_ip=egress_ip, until__gt=now).first()
    if current is not None:
        if current.until < until:
            Suspension.objects.filter(pk=current.pk).update(until=until, reply=text[:2000], rule=rule.name)
            current.until, current.reply, current.rule = until, text[:2000], rule.name
    else:
        current = Suspension.objects.create(
            provider=provider, egress_ip=egress_ip, rule=rule.name, reply=text[:2000], since=now, until=until
        )
        log.warning("suspended %s from %s until %s: %s", provider, egress_ip or "-", until, text[:200])
    return Held(current.until, _reason(current))
