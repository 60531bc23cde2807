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
from django.db.models import Case, Count, F, Min, PositiveSmallIntegerField, Q, When
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from directmail.metrics import DELIVERIES
from sending import egress, events, providers, shaping, unsubscribe, warmup
from sending import headers as header_rules
from sending.delivery import mime, throttle
from sending.delivery import signing as dkim_signing
from sending.delivery.transports import (
    CaptureTransport,
    MxTransport,
    Result,
    Transport,
    TransportError,
    elapsed_ms,
    get_transport,
)
from sending.esp import esp_of
from sending.events import Event
from sending.models import (
    DeliveryAttempt,
    Envelope,
    EnvelopeAttachment,
    Message,
    MessageState,
    Suppression,
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
    domain = next((d for d in dict.fromkeys(candidates[:500]) if throttle.may_open_session(d)), None)
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


def deliver_batch(token: str, messages: list[Message]) -> dict[str, int]:
    """Deliver messages of one destination domain through one transport session (sandbox mail through
    the Outbox's, whatever DELIVERY_MODE says: it never leaves the machine)."""
    counts: dict[str, int] = {}
    if not messages:
        return counts
    suppressed = _suppressed(messages)
    pending = []
    for message in messages:
        outcome = _hold_reason(message, suppressed)
        if outcome:
            _record(token, message, outcome, 0, counts)
        else:
            pending.append(message)
    sandboxed = [m for m in pending if m.envelope.sender.domain.sandbox]
    if sandboxed:
        _deliver_through(CaptureTransport(), token, sandboxed, counts)
    real = [m for m in pending if not m.envelope.sender.domain.sandbox]
    if real:
        transport = get_transport()
        if not isinstance(transport, MxTransport):
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
                source = part.source.address if part.source else ""
                held = shaping.suspended(provider, source)
                if held is not None:  # a receiver asked us to wait: nothing is attempted
                    _hold_all(token, part.messages, held, counts)
                    tally = {"used": 0, "delivered": 0, "deferred": 0, "bounced": 0}
                else:
                    tally = _deliver_through(transport, token, part.messages, counts,
                                             [part.source] if part.source else None, provider)  # fmt: skip
                if part.reservation:
                    warmup.settle(part.reservation, **tally)
            until = warmup.next_day_starts() if reason.startswith("warm-up") else None
            for message in waiting:
                _record(token, message, Outcome(MessageState.DEFERRED, None, reason, hold=True,
                                                hold_until=until), 0, counts)  # fmt: skip
    return counts


def _deliver_through(
    transport: Transport,
    token: str,
    pending: list[Message],
    counts: dict[str, int],
    sources: list[egress.Source] | None = None,
    provider: str = "",
) -> dict[str, int]:
    """Send the messages through one session; returns what was handed to the receiver and what it
    answered (for sending.warmup.settle). In mx mode (`provider` given), a deferral that a shaping rule
    reads as "stop" suspends the provider x address, and the rest of the batch waits for it."""
    tally = {"used": 0, "delivered": 0, "deferred": 0, "bounced": 0}
    remaining = list(pending)
    pacer = throttle.Pacer(throttle.domain_limits(remaining[0].rcpt_domain)["per_second"])
    cache = _BatchCache()
    delivered = _DeliveredBuffer(token, counts)
    started = time.monotonic()
    try:
        with transport.session(remaining[0].rcpt_domain, sources) as session:
            renewed = time.monotonic()
            while remaining:
                message = remaining[0]
                if time.monotonic() - renewed > settings.DELIVERY_SESSION_ALIVE / 3:
                    throttle.renew_lease(token)  # still alive: the session keeps counting
                    renewed = time.monotonic()
                pacer.wait()
                throttle.account_slot(message.account_id)
                started = time.monotonic()
                try:
                    raw = render(message, cache)
                    tally["used"] += 1
                    result: Result = session.send(message, return_path(message), raw)
                    outcome = Outcome(
                        MessageState.DELIVERED, result.code, result.text, result.mx_host, egress=result.source
                    )
                except TransportError as exc:
                    outcome = _failure(exc)
                except Exception as exc:  # a bug of ours must not lose the message: retry it later
                    log.exception("could not deliver message %s", message.pk)
                    outcome = Outcome(MessageState.DEFERRED, None, f"internal error: {type(exc).__name__}")
                if outcome.state == MessageState.DELIVERED:
                    delivered.add(message, outcome, elapsed_ms(started))
                    tally["delivered"] += 1
                else:
                    delivered.flush()
                    _record(token, message, outcome, elapsed_ms(started), counts)
                    tally["deferred" if outcome.state == MessageState.DEFERRED else "bounced"] += 1
                remaining.pop(0)
                if provider and outcome.state == MessageState.DEFERRED and outcome.code:
                    held = shaping.react(provider, outcome.egress, outcome.code, outcome.text)
                    if held is not None:
                        _hold_all(token, remaining, held, counts)
                        remaining = []
    except TransportError as exc:
        delivered.flush()
        # The destination could not be reached at all: every message still pending shares the outcome.
        for message in remaining:
            _record(token, message, _failure(exc), elapsed_ms(started), counts)
    finally:
        delivered.flush()
    return tally


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
                [Event("delivered", m, _detail(o.code, o.text, o.mx_host)) for m, o, _d in items],
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
                )
                for m, o, d in kept
            )
        if not kept:
            return
        self.counts[MessageState.DELIVERED] = self.counts.get(MessageState.DELIVERED, 0) + len(kept)
        DELIVERIES.labels(MessageState.DELIVERED).inc(len(kept))


def _failure(exc: TransportError) -> Outcome:
    if exc.invalid:
        return Outcome(MessageState.INVALID, exc.code, exc.text, exc.mx_host, invalid=True, egress=exc.source)
    if exc.permanent:
        return Outcome(MessageState.FAILED, exc.code, exc.text, exc.mx_host, egress=exc.source)
    return Outcome(MessageState.DEFERRED, exc.code, exc.text, exc.mx_host, egress=exc.source, hold=exc.hold)


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
    with transaction.atomic():
        kind = "withheld" if state == MessageState.INVALID and not outcome.invalid else _EVENT[state]
        event = Event(kind, message, _detail(outcome.code, text, outcome.mx_host))
        changes = _finished(
            now if final else None, outcome.code, "" if state == MessageState.DELIVERED else text
        )
        changes["next_attempt_at"] = next_attempt or now
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
            duration_ms=duration_ms,
        )
    counts[state] = counts.get(state, 0) + 1


# The event kind (sending.events) of each outcome ("withheld" for a recipient suppressed while it waited).
_EVENT: dict[str, str] = {
    MessageState.DELIVERED: "delivered",
    MessageState.DEFERRED: "deferred",
    MessageState.FAILED: "failed",
    MessageState.INVALID: "invalid",
}


def _detail(code: int | None, text: str, mx_host: str) -> dict:
    """What an outcome's event keeps of the receiver's answer."""
    return {"code": code, "text": text[:500], "mx": mx_host}


def _finished(at, code: int | None, error: str) -> dict:
    """The fields a recorded outcome sets besides the state: the lease is given back. `at`: when the message
    finished (None while it waits for another try)."""
    return {
        "lease_owner": "",
        "lease_until": None,
        "next_attempt_at": at or timezone.now(),
        "last_code": code,
        "last_error": error[:2000],
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
