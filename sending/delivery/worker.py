"""The delivery worker: claim due messages with a lease, deliver them one destination domain at a time over
one connection, and record one result per message.

A pipeline of small steps per message (Postal's outgoing processor in spirit): is the sending domain still
allowed, is the recipient suppressed, build the MIME, sign it, hand it over, record what happened.
Results are written only while the lease is still ours, so a worker that lost its lease cannot overwrite
the newer owner's outcome.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import DatabaseError, connection, transaction
from django.db.models import (
    Case,
    Count,
    F,
    Min,
    OuterRef,
    PositiveSmallIntegerField,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Greatest
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from directmail.metrics import DELIVERIES, REPLIES
from sending import egress, events, provider_limits, providers, shaping, unsubscribe, validation, warmup
from sending import headers as header_rules
from sending.bounce_categories import categorize
from sending.delivery import mime, throttle
from sending.delivery import signing as dkim_signing
from sending.delivery.transports import (
    NO_TLS,
    CaptureTransport,
    MxTransport,
    Result,
    Tls,
    Transport,
    TransportError,
    elapsed_ms,
    get_transport,
)
from sending.esp import esp_of
from sending.events import Event
from sending.models import (
    ConfigSet,
    DeliveryAttempt,
    DomainProvider,
    Envelope,
    EnvelopeAttachment,
    Message,
    MessageState,
    Suppression,
    Suspension,
    suppression_applies,
)

log = logging.getLogger(__name__)

RETURN_PATH_SALT = "sending.return_path"


@dataclass(frozen=True)
class Outcome:
    state: str
    code: int | None
    text: str
    mx_host: str = ""
    invalid: bool = False
    egress: str = ""  # the address it left from, when this host has egress addresses
    hold: bool = False  # waiting, not failing: for the operator (TransportError.hold) or for warm-up
    hold_until: datetime | None = None  # when to try again (None: after HOLD_RETRY)
    category: str = ""  # why it did not arrive (sending.bounce_categories), for every outcome but delivered
    tls: Tls = NO_TLS  # the session's TLS (sending.tls_policy)

    def tls_fields(self) -> dict:
        """The DeliveryAttempt fields of its TLS."""
        tls = self.tls
        return {"tls_version": tls.version, "tls_cipher": tls.cipher[:64], "tls_verified": tls.verified,
                "tls_policy": tls.policy}  # fmt: skip


def _due() -> Q:
    now = timezone.now()
    waiting = Q(state__in=[MessageState.QUEUED, MessageState.DEFERRED], next_attempt_at__lte=now)
    abandoned = Q(state=MessageState.SENDING, lease_until__lt=now)
    return waiting | abandoned


def claim(limit: int | None = None) -> tuple[str, list[Message]]:
    """Lease up to `limit` due messages of one destination domain; returns (lease token, messages)."""
    limit = limit or settings.DELIVERY_BATCH
    due = _due()
    # The oldest due domain that is not already at its limit of concurrent sessions.
    candidates = Message.objects.filter(due).order_by("next_attempt_at").values_list("rcpt_domain", flat=True)
    mx = settings.DELIVERY_MODE == "mx"
    domain = next(
        (
            d
            for d in dict.fromkeys(candidates[:500])
            if throttle.may_open_session(d, providers.provider_of(d) if mx else "")
        ),
        None,
    )
    if domain is None:
        return "", []
    ids = list(
        Message.objects.filter(due, rcpt_domain=domain)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    token = uuid.uuid4().hex
    now = timezone.now()
    # The conditional UPDATE is the claim: a row another worker took in the meantime no longer matches `due`.
    Message.objects.filter(due, pk__in=ids).update(
        state=MessageState.SENDING,
        lease_owner=token,
        lease_until=now + timedelta(seconds=settings.DELIVERY_LEASE),
        attempts=F("attempts") + 1,
        lost_leases=Case(
            When(state=MessageState.SENDING, then=F("lost_leases") + 1),
            default=F("lost_leases"),
            output_field=PositiveSmallIntegerField(),
        ),
    )
    messages = list(
        Message.objects.filter(lease_owner=token, state=MessageState.SENDING)
        .select_related("envelope__sender__domain", "account")
        .defer("envelope__raw_message")  # up to 15 MB: loaded once per envelope by the batch cache
        .order_by("pk")
    )
    return token, messages


def return_path(message: Message) -> str:
    """VERP: bounces name the message they are about, signed so nobody can forge one."""
    signed = signing.Signer(salt=RETURN_PATH_SALT, sep=".").sign(str(message.pk))
    return f"bounce+{signed}@{message.envelope.sender.domain.name}"


def message_from_return_path(local_part: str) -> Message | None:
    token = local_part.removeprefix("bounce+")
    try:
        pk = signing.Signer(salt=RETURN_PATH_SALT, sep=".").unsign(token)
    except signing.BadSignature:
        return None
    return Message.objects.filter(pk=pk).first()


class _BatchCache:
    """What the messages of one batch share: encoded bodies per envelope, DKIM keys per domain."""

    def __init__(self):
        self.bodies: dict[int, tuple[bytes, bytes]] = {}
        self.raws: dict[int, bytes | None] = {}
        self.keys: dict[int, object] = {}
        self.files: dict[int, list[bytes]] = {}

    def raw(self, envelope) -> bytes | None:
        """An SMTP submission's message as accepted, or None for mail built from parts."""
        if envelope.pk not in self.raws:
            value = Envelope.objects.filter(pk=envelope.pk).values_list("raw_message", flat=True).first()
            self.raws[envelope.pk] = bytes(value) if value is not None else None
        return self.raws[envelope.pk]

    def attachments(self, envelope) -> list[bytes]:
        """The envelope's attachments as MIME parts, encoded once for all its recipients."""
        if not envelope.attachment_count:
            return []
        if envelope.pk not in self.files:
            self.files[envelope.pk] = [
                mime.encode_attachment(name, kind, bytes(data))
                for name, kind, data in EnvelopeAttachment.objects.filter(envelope_id=envelope.pk)
                .order_by("position")
                .values_list("filename", "content_type", "data")
            ]
        return self.files[envelope.pk]

    def body(self, envelope):
        if envelope.templated:  # personalized: the recipient's own text, encoded for them alone
            return mime.encode_body(envelope, self.attachments(envelope))
        if envelope.pk not in self.bodies:
            self.bodies[envelope.pk] = mime.encode_body(envelope, self.attachments(envelope))
        return self.bodies[envelope.pk]

    def key(self, domain):
        if domain.pk not in self.keys:
            self.keys[domain.pk] = domain.active_dkim_key()
        return self.keys[domain.pk]


def render(message: Message, cache: _BatchCache | None = None) -> bytes:
    """The signed bytes that leave for `message.rcpt`."""
    cache = cache or _BatchCache()
    envelope = message.envelope
    domain = envelope.sender.domain
    submitted = cache.raw(envelope) if envelope.source == Envelope.Source.SMTP else None
    if submitted is not None:
        raw = mime.build_raw(submitted, message)
        raw = mime.add_raw_headers(raw, [("Feedback-ID", mime.feedback_id(envelope, message))])
        if unsubscribe.wants_link(message):  # the headers; the client's body is not rewritten
            url, mailto = unsubscribe.links(message)
            raw = mime.add_raw_headers(raw, mime.unsubscribe_headers(url, mailto))
        if envelope.click_trace or envelope.open_trace:
            raw = mime.track_raw(raw, message, click=envelope.click_trace, pixel=envelope.open_trace)
    else:
        if envelope.templated:
            envelope = mime.personalize(envelope, message)
        tracked = envelope.html_body and (envelope.click_trace or envelope.open_trace) and not message.bcc
        if tracked:  # a Bcc copy is never tracked (DirectMail's privacy rule)
            envelope = mime.with_tracking(envelope, message)
        files = cache.attachments(envelope)
        if unsubscribe.wants_link(message):
            envelope, headers = mime.with_unsubscribe(envelope, *unsubscribe.links(message))
            raw = mime.build(envelope, message, body=mime.encode_body(envelope, files), raw_headers=headers)
        elif tracked:
            # Its own links and pixel: encoded for this recipient alone.
            raw = mime.build(envelope, message, body=mime.encode_body(envelope, files))
        else:
            raw = mime.build(envelope, message, body=cache.body(envelope))
    # Whatever built or rewrote it, nothing is signed that has a header nobody accepted (sending.headers).
    header_rules.check_block(raw.partition(b"\r\n\r\n")[0], sender=envelope.sender.address)
    key = cache.key(domain)
    if key is not None:
        raw = dkim_signing.sign(raw, key, domain.name)
    return raw


# (scope, reason) of the suppression entries of each (account id, address).
Entries = dict[tuple[int, str], list[tuple[str, str]]]


def _suppressed(messages: list[Message]) -> Entries:
    """(scope, reason) of the suppression entries that concern the batch's recipients, by (account id,
    address)."""
    found: Entries = {}
    for account_id, address, scope, reason in (
        Suppression.objects.filter(
            account_id__in={m.account_id for m in messages}, address__in={m.rcpt.lower() for m in messages}
        )
        .exclude(expires_at__lt=timezone.now())
        .values_list("account_id", "address", "scope", "reason")
    ):
        found.setdefault((account_id, address), []).append((scope, reason))
    return found


def _hold_reason(
    message: Message, suppressed: dict[tuple[int, str], list[tuple[str, str]]]
) -> Outcome | None:
    """Checks before sending: an outcome when the message must not go out now."""
    if message.lost_leases > settings.DELIVERY_MAX_LOST_LEASES:
        return Outcome(MessageState.FAILED, None, f"gave up: its worker stopped {message.lost_leases} times")
    domain = message.envelope.sender.domain
    if not domain.can_send:
        return Outcome(MessageState.DEFERRED, None, f"sending domain {domain.name} is {domain.status}; held")
    envelope = message.envelope
    if any(
        suppression_applies(scope, reason, envelope.sender.address, envelope.unsubscribe_filter)
        for scope, reason in suppressed.get((message.account_id, message.rcpt.lower()), ())
    ):
        return Outcome(MessageState.INVALID, None, "recipient is on the suppression list")
    return None


def _validation_options(messages: list[Message]) -> dict[int, dict]:
    """The ValidationOption of each configuration set of the batch's mail that enables it (one query, none
    when no message goes by a set)."""
    ids = {m.envelope.config_set_id for m in messages if m.envelope.config_set_id}
    if not ids:
        return {}
    found = ConfigSet.objects.filter(pk__in=ids).values_list("pk", "validation_option")
    return {pk: option for pk, option in found if validation.enabled(option)}


def _validation_hold(
    message: Message, options: dict[int, dict], validator: "validation.Validator | None"
) -> Outcome | None:
    """A recipient its configuration set's ValidationOption forbids: withheld (never sent, counted as an
    invalid address, not suppressed). The batch is one destination domain: its DNS is asked once."""
    option = options.get(message.envelope.config_set_id or 0)
    if option is None or validator is None:
        return None
    result = validator.validate(message.rcpt)
    if not validation.forbids(option, result):
        return None
    text = f"withheld by address validation: {result.status} / {result.sub_status}"
    return Outcome(MessageState.INVALID, None, text)


def deliver_batch(token: str, messages: list[Message]) -> dict[str, int]:
    """Deliver messages of one destination domain through one transport session (sandbox mail through
    the Outbox's, whatever DELIVERY_MODE says: it never leaves the machine)."""
    counts: dict[str, int] = {}
    if not messages:
        return counts
    suppressed = _suppressed(messages)
    options = _validation_options(messages)
    validator = validation.Validator() if options else None
    pending = []
    for message in messages:
        outcome = _hold_reason(message, suppressed) or _validation_hold(message, options, validator)
        if outcome:
            _record(token, message, outcome, 0, counts)
        else:
            pending.append(message)
    holds = shaping.operator_holds()
    if holds:
        pending = _operator_held(token, pending, holds, None, "", counts)
    sandboxed = [m for m in pending if m.envelope.sender.domain.sandbox]
    if sandboxed:
        _deliver_through(CaptureTransport(), token, sandboxed, counts)
    real = [m for m in pending if not m.envelope.sender.domain.sandbox]
    if real:
        transport = get_transport()
        if not isinstance(transport, MxTransport):
            if any(hold.entry.provider for hold in holds):  # by the provider last found for the domain
                real = _operator_held(token, real, holds, providers.known(real[0].rcpt_domain), "", counts)
            if real:
                _deliver_through(transport, token, real, counts)
            return counts
        # mx mode: each message leaves from the addresses of its route (its account's, its pool's), as
        # far as today's warm-up caps allow; the rest waits for the next day.
        by_route: dict[tuple, list[Message]] = {}
        for message in real:
            key = (message.account_id, message.envelope.ip_pool_id, message.envelope.config_set_id)
            by_route.setdefault(key, []).append(message)
        esp = esp_of(real[0].rcpt_domain)
        provider = providers.provider_of(real[0].rcpt_domain)
        for (account_id, pool_id, config_set_id), group in by_route.items():
            route = egress.route_of(account_id, pool_id, config_set_id)
            parts, waiting, reason = egress.plan(route, esp, group)
            for part in parts:
                tally = _deliver_part(token, transport, part, provider, holds, counts)
                if part.reservation:
                    warmup.settle(part.reservation, **tally)
            until = warmup.next_day_starts() if reason.startswith("warm-up") else None
            for message in waiting:
                _record(token, message, Outcome(MessageState.DEFERRED, None, reason, hold=True,
                                                hold_until=until), 0, counts)  # fmt: skip
    return counts


def _operator_held(
    token: str,
    messages: list[Message],
    holds: list["shaping.Hold"],
    provider: str | None,
    source: str | None,
    counts: dict[str, int],
) -> list[Message]:
    """Hold the messages an operator's hold matches; returns the others."""
    left = []
    for message in messages:
        hold = next((h for h in holds if h.matches(message, provider, source)), None)
        if hold is None:
            left.append(message)
        else:
            _hold_all(token, [message], hold.held, counts)
    return left


# How soon mail given back for a busy connection slot is due again.
SLOT_RETRY = timedelta(seconds=2)


def _deliver_part(
    token: str,
    transport: Transport,
    part: egress.Part,
    provider: str,
    holds: list["shaping.Hold"],
    counts: dict[str, int],
) -> dict[str, int]:
    """One session's messages in mx mode, within the provider x address's shaping: nothing while a
    receiver's suspension holds it, only what an operator's hold leaves, only while a connection slot
    of the provider x address is ours, at its pace and within its minute / hour / day budget."""
    tally = {"used": 0, "delivered": 0, "deferred": 0, "bounced": 0}
    source = part.source.address if part.source else ""
    held = shaping.suspended(provider, source)
    if held is not None:  # a receiver asked us to wait: nothing is attempted
        _hold_all(token, part.messages, held, counts)
        return tally
    messages = part.messages
    if holds:
        messages = _operator_held(token, messages, holds, provider, source, counts)
    if not messages:
        return tally
    limits = provider_limits.limits_for(provider, source, shaping.fraction(provider, source))
    if not provider_limits.take_slot(provider, source, limits, token):
        _give_back(token, messages, timezone.now() + SLOT_RETRY)  # another session has the last slot
        return tally
    try:
        budget = provider_limits.Budget(provider, source, limits)
        return _deliver_through(transport, token, messages, counts, [part.source] if part.source else None,
                                provider, limits, budget)  # fmt: skip
    finally:
        provider_limits.release_slots(token)


def _give_back(token: str, messages: list[Message], until: datetime) -> None:
    """Messages not tried at all (a limit is reached, a slot is busy) wait until `until` as they were:
    no attempt spent, no event, the give-up time moved by the wait."""
    wait = max(timedelta(0), until - timezone.now())

    def write() -> None:
        Message.objects.filter(
            lease_owner=token, state=MessageState.SENDING, pk__in=[m.pk for m in messages]
        ).update(
            state=Case(
                When(last_error="", then=Value(MessageState.QUEUED)), default=Value(MessageState.DEFERRED)
            ),
            attempts=Greatest(F("attempts") - 1, 0),
            give_up_at=F("give_up_at") + wait,
            next_attempt_at=until,
            lease_owner="",
            lease_until=None,
        )

    _durably(write)


def _deliver_through(
    transport: Transport,
    token: str,
    pending: list[Message],
    counts: dict[str, int],
    sources: list[egress.Source] | None = None,
    provider: str = "",
    limits: "provider_limits.Limits | None" = None,
    budget: "provider_limits.Budget | None" = None,
) -> dict[str, int]:
    """Send the messages through one session (several when `limits` caps messages per connection);
    returns what was handed to the receiver and what it answered (for sending.warmup.settle). In mx mode
    (`provider` given), a deferral that a reply rule reads as "stop" suspends the provider x address, and
    the rest of the batch waits for it; mail over the budget waits for its window."""
    tally = {"used": 0, "delivered": 0, "deferred": 0, "bounced": 0}
    remaining = list(pending)
    domain = remaining[0].rcpt_domain
    paces = [throttle.domain_limits(domain, provider).get("per_second", 0), limits.pace if limits else 0]
    pacer = throttle.Pacer(min([p for p in paces if p] or [0]))
    per_connection = limits.per_connection if limits else 0
    cache = _BatchCache()
    delivered = _DeliveredBuffer(token, counts)
    started = time.monotonic()
    try:
        while remaining:
            with transport.session(domain, sources) as session:
                renewed = time.monotonic()
                sent_here = 0
                while remaining and not (per_connection and sent_here >= per_connection):
                    message = remaining[0]
                    if time.monotonic() - renewed > settings.DELIVERY_SESSION_ALIVE / 3:
                        throttle.renew_lease(token)  # still alive: the session keeps counting
                        provider_limits.renew_slots(token)
                        renewed = time.monotonic()
                    if budget is not None:
                        until = budget.take(len(remaining))
                        if until is not None:  # this minute's, hour's or day's share is used up
                            delivered.flush()
                            _give_back(token, remaining, until)
                            remaining = []
                            break
                    pacer.wait()
                    throttle.account_slot(message.account_id)
                    started = time.monotonic()
                    outcome, handed = _send_one(session, message, cache)
                    tally["used"] += handed
                    sent_here += 1
                    if outcome.state == MessageState.DELIVERED:
                        delivered.add(message, outcome, elapsed_ms(started))
                        tally["delivered"] += 1
                    else:
                        delivered.flush()
                        _record(token, message, outcome, elapsed_ms(started), counts)
                        tally["deferred" if outcome.state == MessageState.DEFERRED else "bounced"] += 1
                    remaining.pop(0)
                    if provider and outcome.state != MessageState.DELIVERED and outcome.code:
                        held = _react(provider, outcome)
                        if held is not None:
                            _hold_all(token, remaining, held, counts)
                            remaining = []
    except TransportError as exc:
        delivered.flush()
        # The destination could not be reached at all: every message still pending shares the outcome.
        for message in remaining:
            _record(token, message, _failure(exc), elapsed_ms(started), counts)
        if provider and exc.code and not exc.permanent and remaining:
            _react(provider, _failure(exc))
    finally:
        delivered.flush()
        if budget is not None:
            budget.give_back()
    return tally


def _send_one(session, message: Message, cache: "_BatchCache") -> tuple[Outcome, bool]:
    """Render and hand over one message: its outcome, and whether it reached the receiver at all."""
    try:
        raw = render(message, cache)
    except TransportError as exc:
        return _failure(exc), False
    except Exception as exc:  # a bug of ours must not lose the message: retry it later
        log.exception("could not render message %s", message.pk)
        return Outcome(MessageState.DEFERRED, None, f"internal error: {type(exc).__name__}"), False
    try:
        result: Result = session.send(message, return_path(message), raw)
        delivered = Outcome(MessageState.DELIVERED, result.code, result.text, result.mx_host,
                            egress=result.source, tls=result.tls)  # fmt: skip
        return delivered, True
    except TransportError as exc:
        return _failure(exc), True
    except Exception as exc:
        log.exception("could not deliver message %s", message.pk)
        return Outcome(MessageState.DEFERRED, None, f"internal error: {type(exc).__name__}"), True


def _react(provider: str, outcome: Outcome) -> "shaping.Held | None":
    """What a receiver's refusal means for the provider x address (sending.shaping); counts its class.
    Only a deferral can suspend: a permanent refusal is classified, and acted on when a rule says so."""
    rule, held = shaping.react(provider, outcome.egress, outcome.code, outcome.text)
    REPLIES.labels(rule.kind if rule else "unclassified").inc()
    return held


def _hold_all(token: str, messages: list[Message], held: "shaping.Held", counts: dict[str, int]) -> None:
    for message in messages:
        _record(token, message, Outcome(MessageState.DEFERRED, None, held.reason, hold=True,
                                        hold_until=held.until), 0, counts)  # fmt: skip


class _DeliveredBuffer:
    """Delivered results written a few at a time in one transaction (one fsync, not one per message).

    Mail stays at-least-once: if the worker dies before a flush, those messages' leases run out and they are
    sent again. The buffer is small and flushed at least every FLUSH_SECONDS to keep that window short.
    """

    FLUSH_SIZE = 20
    FLUSH_SECONDS = 1.0

    def __init__(self, token: str, counts: dict[str, int]):
        self.token, self.counts = token, counts
        self.items: list[tuple[Message, Outcome, int]] = []
        self.since = time.monotonic()

    def add(self, message: Message, outcome: Outcome, duration_ms: int) -> None:
        self.items.append((message, outcome, duration_ms))
        if len(self.items) >= self.FLUSH_SIZE or time.monotonic() - self.since >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        items, self.items, self.since = self.items, [], time.monotonic()
        if items:
            _durably(lambda: self._write(items))

    def _write(self, items: list[tuple[Message, Outcome, int]]) -> None:
        now = timezone.now()
        with transaction.atomic():
            recorded = events.record(
                [Event("delivered", m, _detail(o.code, o.text, o.mx_host, o.tls)) for m, o, _d in items],
                at=now,
                where=Q(lease_owner=self.token),
                changes=_finished(now, items[-1][1].code, ""),
            )
            if len(recorded) < len(items):
                log.warning(
                    "%s leases were lost before their results were recorded", len(items) - len(recorded)
                )
            ours = {event.message.pk for event in recorded}
            kept = [(m, o, d) for m, o, d in items if m.pk in ours]
            DeliveryAttempt.objects.bulk_create(
                DeliveryAttempt(
                    message=m,
                    at=now,
                    result=MessageState.DELIVERED,
                    mx_host=o.mx_host[:255],
                    egress_ip=o.egress or None,
                    code=o.code,
                    text=o.text[:2000],
                    duration_ms=d,
                    **o.tls_fields(),
                )
                for m, o, d in kept
            )
        if not kept:
            return
        self.counts[MessageState.DELIVERED] = self.counts.get(MessageState.DELIVERED, 0) + len(kept)
        DELIVERIES.labels(MessageState.DELIVERED).inc(len(kept))


def _failure(exc: TransportError) -> Outcome:
    source, category, tls = exc.source, exc.category, exc.tls
    if exc.invalid:
        return Outcome(MessageState.INVALID, exc.code, exc.text, exc.mx_host, invalid=True, egress=source,
                       category=category, tls=tls)  # fmt: skip
    if exc.permanent:
        return Outcome(MessageState.FAILED, exc.code, exc.text, exc.mx_host, egress=source, category=category,
                       tls=tls)  # fmt: skip
    return Outcome(MessageState.DEFERRED, exc.code, exc.text, exc.mx_host, egress=source, hold=exc.hold,
                   category=category, tls=tls)  # fmt: skip


# How often mail held for the operator (an egress address that cannot be bound) is tried again.
HOLD_RETRY = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    seconds = settings.DELIVERY_RETRY_FIRST * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.DELIVERY_RETRY_MAX))


RESULT_WRITE_PATIENCE = 120.0


def _durably(write: Callable[[], None]) -> None:
    """Run a write of delivery results, retrying while the database is out of reach (down, its disk full):
    a message the receiver took must not be sent again for want of a row. The worker holds the results
    and sends nothing more meanwhile; after RESULT_WRITE_PATIENCE (at most half the lease) it gives up, and
    the lease brings the messages back (at-least-once)."""
    deadline = time.monotonic() + min(RESULT_WRITE_PATIENCE, settings.DELIVERY_LEASE / 2)
    pause = 0.5
    while True:
        try:
            write()
            return
        except DatabaseError:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("could not record delivery results; trying again in %.1f s", pause, exc_info=True)
            connection.close()  # a broken connection is opened again by the next try
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _record(token: str, message: Message, outcome: Outcome, duration_ms: int, counts: dict[str, int]) -> None:
    _durably(lambda: _write_outcome(token, message, outcome, duration_ms, counts))


def _write_outcome(
    token: str, message: Message, outcome: Outcome, duration_ms: int, counts: dict[str, int]
) -> None:
    now = timezone.now()
    state, text = outcome.state, outcome.text
    next_attempt = None
    held: dict = {}
    if outcome.hold:
        # Waiting never fails mail: the try is given back and the give-up time moves with the wait.
        # (At least HOLD_RETRY: a wait that ended already must not spin the worker on the same mail.)
        wait = max(HOLD_RETRY, outcome.hold_until - now) if outcome.hold_until else HOLD_RETRY
        next_attempt = now + wait
        held = {"attempts": F("attempts") - 1, "give_up_at": F("give_up_at") + wait}
    elif state == MessageState.DEFERRED:
        next_attempt = now + backoff(message.attempts)
        if next_attempt > message.give_up_at:
            state, text = MessageState.FAILED, f"gave up after {message.attempts} attempts: {text}"
    final = state != MessageState.DEFERRED
    kind = "withheld" if state == MessageState.INVALID and not outcome.invalid else _EVENT[state]
    # Every failure but a recipient suppressed while its mail waited (nothing was tried) has a category.
    category = ""
    if state != MessageState.DELIVERED and kind != "withheld":
        category = outcome.category or categorize(outcome.code, text)
    with transaction.atomic():
        detail = _detail(outcome.code, text, outcome.mx_host, outcome.tls)
        if category:
            detail["category"] = category
        if outcome.hold:
            detail["held"] = True
        event = Event(kind, message, detail)
        changes = _finished(
            now if final else None, outcome.code, "" if state == MessageState.DELIVERED else text
        )
        changes["next_attempt_at"] = next_attempt or now
        changes["bounce_category"] = category
        changes.update(held)
        if not events.record([event], at=now, where=Q(lease_owner=token), changes=changes):
            log.warning("lease on message %s was lost before its result was recorded", message.pk)
            return
        transaction.on_commit(DELIVERIES.labels(state).inc)
        DeliveryAttempt.objects.create(
            message=message,
            at=now,
            result=state,
            mx_host=outcome.mx_host[:255],
            egress_ip=outcome.egress or None,
            code=outcome.code,
            text=text[:2000],
            category=category,
            duration_ms=duration_ms,
            **outcome.tls_fields(),
        )
    counts[state] = counts.get(state, 0) + 1


# The event kind (sending.events) of each outcome ("withheld" for a recipient suppressed while it waited).
_EVENT: dict[str, str] = {
    MessageState.DELIVERED: "delivered",
    MessageState.DEFERRED: "deferred",
    MessageState.FAILED: "failed",
    MessageState.INVALID: "invalid",
}


def _detail(code: int | None, text: str, mx_host: str, tls: Tls = NO_TLS) -> dict:
    """What an outcome's event keeps of the receiver's answer, and of the session's TLS (webhooks show it)."""
    detail: dict = {"code": code, "text": text[:500], "mx": mx_host}
    if tls.policy:
        detail["tls"] = {"version": tls.version, "cipher": tls.cipher, "verified": tls.verified,
                         "policy": tls.policy}  # fmt: skip
    return detail


def _finished(at, code: int | None, error: str) -> dict:
    """The fields a recorded outcome sets besides the state: the lease is given back. `at`: when the message
    finished (None while it waits for another try)."""
    return {
        "lease_owner": "",
        "lease_until": None,
        "next_attempt_at": at or timezone.now(),
        "last_code": code,
        "last_error": error[:2000],
        "bounce_category": "",
        "finished_at": at,
    }


# Mail that comes due this soon (a batch's paced tail, a short retry) is waited for by the running task
# rather than left to the next schedule tick.
NEXT_DUE_WAIT = 10.0


def deliver_due(max_seconds: float = 50) -> dict[str, int]:
    """Claim and deliver until nothing is due or the time is up; returns counts by outcome.

    Mail due within NEXT_DUE_WAIT seconds is waited for, so the paced tail of a batch goes out without a
    schedule (mail due now that cannot be claimed is another worker's: its sessions are open)."""
    deadline = time.monotonic() + max_seconds
    totals: dict[str, int] = {}
    while time.monotonic() < deadline:
        token, messages = claim()
        if not messages:
            wait = seconds_to_next_due()
            if wait is None or wait <= 0 or wait > NEXT_DUE_WAIT or time.monotonic() + wait >= deadline:
                break
            time.sleep(wait)
            continue
        for state, n in deliver_batch(token, messages).items():
            totals[state] = totals.get(state, 0) + n
    return totals


def seconds_to_next_due() -> float | None:
    """Seconds until the next waiting message comes due (<= 0: one is due now), None when none waits."""
    nearest = (
        Message.objects.filter(state__in=[MessageState.QUEUED, MessageState.DEFERRED])
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return None if nearest is None else (nearest - timezone.now()).total_seconds()


def queue_gauges() -> Iterator[GaugeMetricFamily]:
    """/metrics (directmail.metrics): the queue by state and how late its most overdue message is (the
    partial indexes keep it cheap)."""
    waiting = [MessageState.QUEUED, MessageState.DEFERRED, MessageState.SENDING, MessageState.PAUSED]
    depth = GaugeMetricFamily(
        "directmail_queue_messages", "Messages not yet final, by state", labels=["state"]
    )
    counts = dict(
        Message.objects.filter(state__in=waiting).values_list("state").annotate(n=Count("pk")).order_by()
    )
    for state in waiting:
        depth.add_metric([state], counts.get(state, 0))
    yield depth
    due = Message.objects.filter(state__in=[MessageState.QUEUED, MessageState.DEFERRED])
    oldest = due.filter(next_attempt_at__lte=timezone.now()).aggregate(at=Min("next_attempt_at"))["at"]
    lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    yield GaugeMetricFamily(
        "directmail_queue_oldest_due_seconds",
        "How long the most overdue queued or deferred message has waited past its time",
        value=max(lag, 0.0),
    )


def shaping_gauges() -> Iterator[GaugeMetricFamily]:
    """/metrics: waiting mail by provider (the one last found for its domain; "" before any lookup) and
    state ("held": waiting for a hold), and the holds in force by origin and action."""
    held = Q(last_error__startswith=shaping.HELD_PREFIX)
    known = DomainProvider.objects.filter(domain=OuterRef("rcpt_domain")).values("provider")[:1]
    rows = (
        Message.objects.filter(state__in=[MessageState.QUEUED, MessageState.DEFERRED, MessageState.SENDING])
        .annotate(provider=Subquery(known))
        .values("provider")
        .annotate(
            queued=Count("pk", filter=Q(state=MessageState.QUEUED) & ~held),
            deferred=Count("pk", filter=Q(state=MessageState.DEFERRED) & ~held),
            held=Count("pk", filter=Q(state__in=[MessageState.QUEUED, MessageState.DEFERRED]) & held),
            sending=Count("pk", filter=Q(state=MessageState.SENDING)),
        )
        .order_by()
    )
    by_provider = GaugeMetricFamily(
        "directmail_queue_provider_messages", "Messages not yet final by mailbox provider and state",
        labels=["provider", "state"],
    )  # fmt: skip
    for row in rows:
        for state in ("queued", "deferred", "held", "sending"):
            by_provider.add_metric([row["provider"] or "", state], row[state])
    yield by_provider
    active = GaugeMetricFamily(
        "directmail_suspensions_active", "Holds and lowered rates in force", labels=["origin", "action"]
    )
    counts = dict(
        ((o, a), n)
        for o, a, n in Suspension.objects.filter(until__gt=timezone.now())
        .values_list("origin", "action")
        .annotate(n=Count("pk"))
        .values_list("origin", "action", "n")
        .order_by()
    )
    for origin in Suspension.Origin.values:
        for action in Suspension.Action.values:
            active.add_metric([origin, action], counts.get((origin, action), 0))
    yield active
