"""Seeing and steering the queue (the Queue page, `manage.py queue`): waiting mail counted by provider,
destination domain, egress address, account and batch send; holds on any of them for a while; bounce or
retry at once.

A Selection names the part of the queue an action applies to: every key it names must match (provider:
the one sending.providers last found for the destination domain; egress: the address of the message's
last attempt). An account's owners and admins work with a Selection bound to their account; staff with
any. Every action is audited, and each is safe with many workers running: holds are read by the worker
before it sends (sending.shaping), bounces and retries change only mail no worker holds a lease on.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import Actor, audit_record
from accounts.models import Account
from sending import events, providers
from sending.events import Event
from sending.models import BatchJob, DeliveryAttempt, DomainProvider, Message, MessageState, Suspension
from sending.shaping import HELD_PREFIX

WAITING = (MessageState.QUEUED, MessageState.DEFERRED)
KEYS = ("provider", "domain", "egress", "account", "batch")
CHUNK = 500


class QueueError(ValueError):
    """What the operator asked for cannot be done (the message says why)."""


def parse_duration(text: str) -> timedelta:
    """ "90s", "30m", "2h", "1d" (a number alone: minutes)."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text or "")
    if not found or not int(found[1]):
        raise QueueError(_('Give a duration such as "30m", "2h" or "1d".'))
    unit = {"s": "seconds", "m": "minutes", "": "minutes", "h": "hours", "d": "days"}[found[2]]
    wanted = timedelta(**{unit: int(found[1])})
    if wanted > timedelta(days=30):
        raise QueueError(_("A hold lasts at most 30 days."))
    return wanted


@dataclass(frozen=True)
class Selection:
    provider: str = ""
    domain: str = ""
    egress: str = ""
    account: Account | None = None
    batch: BatchJob | None = None

    @classmethod
    def of(cls, scope: Account | None = None, **keys: str) -> "Selection":
        """From text keys (a form, the command line); `scope` binds it to one account. Unknown
        accounts and batch sends are refused."""
        batch = None
        account = scope
        if keys.get("account") and account is None:
            account = Account.objects.filter(public_id=keys["account"].strip()).first()
            if account is None:
                raise QueueError(_("No account %(id)s.") % {"id": keys["account"]})
        if keys.get("batch"):
            batches = BatchJob.objects.filter(public_id=keys["batch"].strip())
            if account is not None:
                batches = batches.filter(account=account)
            batch = batches.first()
            if batch is None:
                raise QueueError(_("No batch send %(id)s.") % {"id": keys["batch"]})
        return cls(
            provider=(keys.get("provider") or "").strip().lower(),
            domain=(keys.get("domain") or "").strip().lower().rstrip("."),
            egress=(keys.get("egress") or "").strip(),
            account=account,
            batch=batch,
        )

    @property
    def named(self) -> dict[str, str]:
        """The keys it names, as text."""
        found = {
            "provider": self.provider, "domain": self.domain, "egress": self.egress,
            "account": self.account.public_id if self.account else "",
            "batch": self.batch.public_id if self.batch else "",
        }  # fmt: skip
        return {key: value for key, value in found.items() if value}

    def message_filter(self, prefix: str = "") -> Q:
        """The selection's account, batch, domain and provider as a filter of messages, reached from the
        queried model through `prefix` ("message__" from a DeliveryAttempt; the egress address is the
        caller's: a message's last attempt, or the attempt itself)."""
        found = Q()
        if self.account is not None:
            found &= Q(**{f"{prefix}account": self.account})
        if self.batch is not None:
            found &= Q(**{f"{prefix}envelope_id": self.batch.envelope_id or 0})
        if self.domain:
            found &= Q(**{f"{prefix}rcpt_domain": self.domain})
        if self.provider:
            domains = DomainProvider.objects.filter(provider=self.provider).values("domain")
            found &= Q(**{f"{prefix}rcpt_domain__in": domains})
        return found

    def messages(self, states=WAITING) -> QuerySet[Message]:
        found = Message.objects.filter(self.message_filter(), state__in=states)
        if self.egress:
            found = found.annotate(last_egress=_last_egress()).filter(last_egress=self.egress)
        return found


def _last_egress() -> Subquery:
    return Subquery(
        DeliveryAttempt.objects.filter(message=OuterRef("pk")).order_by("-at", "-pk").values("egress_ip")[:1]
    )


# --- status ----------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    queued: int = 0
    deferred: int = 0
    suspended: int = 0
    sending: int = 0
    oldest: datetime | None = None
    filter_url: str = ""  # set by the Queue page
    action_keys: str = ""

    @property
    def total(self) -> int:
        return self.queued + self.deferred + self.suspended + self.sending

    def add(self, other: "Row") -> None:
        self.queued += other.queued
        self.deferred += other.deferred
        self.suspended += other.suspended
        self.sending += other.sending
        if other.oldest and (self.oldest is None or other.oldest < self.oldest):
            self.oldest = other.oldest

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "queued": self.queued, "deferred": self.deferred,
            "suspended": self.suspended, "sending": self.sending,
            "oldest": self.oldest.isoformat() if self.oldest else None,
        }  # fmt: skip


HELD = Q(last_error__startswith=HELD_PREFIX)


def _counted(query: QuerySet, *group: str) -> QuerySet:
    return (
        query.values(*group)
        .annotate(
            queued=Count("pk", filter=Q(state=MessageState.QUEUED) & ~HELD),
            deferred=Count("pk", filter=Q(state=MessageState.DEFERRED) & ~HELD),
            suspended=Count("pk", filter=Q(state__in=WAITING) & HELD),
            sending=Count("pk", filter=Q(state=MessageState.SENDING)),
            oldest=Min("created_at"),
        )
        .order_by()
    )


def _row(key: str, label: str, values: dict) -> Row:
    return Row(key, label, values["queued"], values["deferred"], values["suspended"], values["sending"],
               values["oldest"])  # fmt: skip


def status(selection: Selection, by: str, limit: int = 100) -> list[Row]:
    """Mail not yet final (queued, deferred, held, being sent) of the selection, counted by one key,
    largest first."""
    if by not in KEYS:
        raise QueueError(_("Count by one of: %(keys)s.") % {"keys": ", ".join(KEYS)})
    query = selection.messages(states=(*WAITING, MessageState.SENDING))
    rows: dict[str, Row] = {}
    if by in ("domain", "provider"):
        counted = list(_counted(query, "rcpt_domain"))
        known = dict(
            DomainProvider.objects.filter(domain__in=[c["rcpt_domain"] for c in counted]).values_list(
                "domain", "provider"
            )
        )
        for values in counted:
            domain = values["rcpt_domain"]
            if by == "domain":
                key, label = domain, domain
            else:
                key = known.get(domain, "")
                label = providers.label_of(key) if key else _("(not looked up yet)")
            rows.setdefault(key, Row(key, label)).add(_row(key, label, values))
    elif by == "egress":
        for values in _counted(query.annotate(last_egress=_last_egress()), "last_egress"):
            key = values["last_egress"] or ""
            rows[key] = _row(key, key or _("(not tried yet)"), values)
    elif by == "account":
        for values in _counted(query, "account__public_id", "account__name"):
            key = values["account__public_id"]
            rows[key] = _row(key, f"{values['account__name']} ({key})", values)
    else:
        batches = query.annotate(
            batch_id=Subquery(BatchJob.objects.filter(envelope_id=OuterRef("envelope_id")).values("public_id")[:1]),
            batch_name=Subquery(BatchJob.objects.filter(envelope_id=OuterRef("envelope_id")).values("name")[:1]),
        )  # fmt: skip
        for values in _counted(batches, "batch_id", "batch_name"):
            key = values["batch_id"] or ""
            label = f"{values['batch_name']} ({key})" if key else _("(not a batch send)")
            rows[key] = _row(key, label, values)
    return sorted(rows.values(), key=lambda row: (-row.total, row.label))[:limit]


def totals(selection: Selection) -> Row:
    total = Row("", "")
    for values in _counted(selection.messages(states=(*WAITING, MessageState.SENDING))):
        total.add(_row("", "", values))
    return total


def last_replies(selection: Selection, limit: int = 10) -> list[DeliveryAttempt]:
    """The latest refusals (deferrals and failures with a receiver's code) of the selection's mail."""
    attempts = DeliveryAttempt.objects.filter(selection.message_filter("message__"), code__isnull=False)
    attempts = attempts.exclude(result=MessageState.DELIVERED)
    if selection.egress:
        attempts = attempts.filter(egress_ip=selection.egress)
    return list(attempts.select_related("message").order_by("-at", "-pk")[:limit])


def holds(account: Account | None = None) -> list[Suspension]:
    """Holds and lowered rates in force: an account sees its own holds and the receivers' suspensions
    (which hold its mail too); staff see all."""
    active = Suspension.objects.filter(until__gt=timezone.now()).select_related("account", "batch")
    if account is not None:
        active = active.filter(Q(origin=Suspension.Origin.REPLY) | Q(account=account))
    return list(active.order_by("until"))


# --- actions ---------------------------------------------------------------------------------------


def _needs_a_key(selection: Selection) -> None:
    if not selection.named:
        raise QueueError(
            _("Name what it applies to: a provider, domain, egress address, account or batch send.")
        )


@dataclass
class Done:
    """What an action did: `count` messages (or holds), and for bounce those a worker was sending."""

    count: int
    skipped: int = 0
    hold: Suspension | None = None
    details: dict[str, Any] = field(default_factory=dict)


def suspend(selection: Selection, duration: timedelta, reason: str, actor: Actor) -> Done:
    """Hold the selection's mail for `duration`: the worker does not try it meanwhile (no attempt spent,
    give-up time moved); the hold ends by itself or by `resume`."""
    _needs_a_key(selection)
    now = timezone.now()
    with transaction.atomic():
        hold = Suspension.objects.create(
            origin=Suspension.Origin.OPERATOR, action=Suspension.Action.SUSPEND,
            provider=selection.provider, rcpt_domain=selection.domain, egress_ip=selection.egress,
            account=selection.account, batch=selection.batch, reply=reason.strip()[:2000],
            created_by=actor.label[:255], since=now, until=now + duration,
        )  # fmt: skip
        waiting = selection.messages().count()
        details = {**selection.named, "until": hold.until.isoformat(), "reason": reason.strip()[:200]}
        audit_record(actor=actor, action="queue.suspend", account=selection.account, target=hold,
                     details={**details, "messages": waiting})  # fmt: skip
    return Done(waiting, hold=hold)


def resume(selection: Selection, actor: Actor, receivers: bool = False) -> Done:
    """End the operators' holds with exactly the selection's keys (and, `receivers` (staff), the
    receivers' suspensions of its provider and egress address), and make the mail they held due now."""
    _needs_a_key(selection)
    now = timezone.now()
    with transaction.atomic():
        ours = Suspension.objects.filter(
            origin=Suspension.Origin.OPERATOR, until__gt=now, provider=selection.provider,
            rcpt_domain=selection.domain, egress_ip=selection.egress, account=selection.account,
            batch=selection.batch,
        )  # fmt: skip
        ended = ours.update(until=now)
        if receivers and selection.provider:
            replies = Suspension.objects.filter(origin=Suspension.Origin.REPLY, until__gt=now,
                                                provider=selection.provider)  # fmt: skip
            if selection.egress:
                replies = replies.filter(egress_ip=selection.egress)
            ended += replies.update(until=now)
        woken = (
            Message.objects.filter(
                pk__in=selection.messages().filter(HELD, next_attempt_at__gt=now).values("pk")
            )
            .filter(state__in=WAITING)
            .update(next_attempt_at=now)
        )
        audit_record(actor=actor, action="queue.resume", account=selection.account,
                     details={**selection.named, "holds": ended, "messages": woken})  # fmt: skip
    return Done(woken, details={"holds": ended})


def bounce(selection: Selection, reason: str, actor: Actor) -> Done:
    """Fail the selection's queued and deferred mail now, with `reason` in each message's log (webhooks
    and statistics count them as failed). Mail a worker is sending is left to the worker's outcome."""
    _needs_a_key(selection)
    text = _("bounced by operator: %(reason)s") % {"reason": reason.strip() or _("no reason given")}
    failed = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                selection.messages()
                .filter(pk__gt=last_pk)
                .select_related("envelope", "account")
                .order_by("pk")[:CHUNK]
            )
            if not batch:
                break
            last_pk = batch[-1].pk
            now = timezone.now()
            recorded = events.record(
                [Event("failed", m, {"code": None, "text": text[:500], "mx": "", "category": "other"})
                 for m in batch],
                at=now,
                where=Q(state__in=WAITING),
                changes={"lease_owner": "", "lease_until": None, "next_attempt_at": now, "last_code": None,
                         "last_error": text[:2000], "finished_at": now, "bounce_category": "other"},
            )  # fmt: skip
            failed += len(recorded)
    skipped = selection.messages(states=(MessageState.SENDING,)).count()
    audit_record(actor=actor, action="queue.bounce", account=selection.account,
                 details={**selection.named, "reason": reason.strip()[:200], "messages": failed,
                          "sending": skipped})  # fmt: skip
    return Done(failed, skipped=skipped)


def retry(selection: Selection, actor: Actor) -> Done:
    """Make the selection's deferred mail due now (held mail stays held: `resume` ends holds)."""
    _needs_a_key(selection)
    now = timezone.now()
    with transaction.atomic():
        due = (
            selection.messages(states=(MessageState.DEFERRED,)).filter(next_attempt_at__gt=now).exclude(HELD)
        )
        count = Message.objects.filter(pk__in=due.values("pk"), state=MessageState.DEFERRED).update(
            next_attempt_at=now
        )
        audit_record(actor=actor, action="queue.retry", account=selection.account,
                     details={**selection.named, "messages": count})  # fmt: skip
    return Done(count)
