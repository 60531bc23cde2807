"""What happens to messages, recorded in one way: `record()`.

Every event of a message goes through here: its acceptance, its delivery or failure, a bounce, an open, a
click, an unsubscribe. `record()` takes a batch of them and, in the caller's transaction:

1. applies the state change the event's kind allows (KINDS, the one table of them): a message that is not
   in a state the kind moves from (or does not match the caller's `where`, such as its worker's lease) is
   left alone and its event is not recorded;
2. writes the event rows (MessageEvent) in one INSERT;
3. suppresses the recipients of hard bounces and complaints (account-wide, like DirectMail's invalid-address
   list);
4. hands the recorded batch to every listener registered for its kinds. `stats` registers its per-day
   counters and its webhooks in its AppConfig.ready, so `sending` knows nothing of them.

Listeners run inside the transaction: what they write commits with the event or not at all. They get the
events with their messages as the caller loaded them; a message's envelope (with its sender) and account
must be loaded (select_related) or cheap to load.

Changes of state that are no events live with their owners: the worker's claim (queued -> sending), a
batch job's pause, resume and cancel (sending.services.batch).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from directmail.db import rows
from sending.models import EventType, Message, MessageEvent, MessageState, Suppression, SuppressionReason

NEW = "new"  # the state of a message that is being created with its event


@dataclass(frozen=True)
class Kind:
    """A kind of event: the MessageEvent type it is stored as and the state change it makes."""

    name: str
    stored: str  # MessageEvent.type
    moves_from: tuple[str, ...] = ()  # states the message may be in; () for no change of state
    to: str = ""  # the message's state afterwards
    # The SuppressionReason its recipient goes on the account's suppression list with ("": it does not).
    suppresses: str = ""
    or_created_as: tuple[str, ...] = ()  # other states a message created with this event may have

    @property
    def creates(self) -> bool:
        return self.moves_from == (NEW,)


S = MessageState
# A bounce may come for a message being retried or one its receiver took (the usual case).
_BOUNCEABLE = (S.QUEUED, S.SENDING, S.DEFERRED, S.DELIVERED)
HARD = SuppressionReason.HARD_BOUNCE

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        # Every accepted recipient; one suppressed at once is created invalid, with a "suppressed" event too.
        Kind("accepted", EventType.ACCEPTED, (NEW,), S.QUEUED, or_created_as=(S.INVALID,)),
        # A recipient on the suppression list when the mail was accepted: recorded, never sent.
        Kind("suppressed", EventType.INVALID, (NEW,), S.INVALID),
        Kind("delivered", EventType.DELIVERED, (S.SENDING,), S.DELIVERED),
        Kind("deferred", EventType.DEFERRED, (S.SENDING,), S.DEFERRED),
        # From queued or deferred: an operator bounced it before it was tried (sending.queue_control).
        Kind("failed", EventType.FAILED, (S.SENDING, S.QUEUED, S.DEFERRED), S.FAILED),
        Kind("invalid", EventType.INVALID, (S.SENDING,), S.INVALID, suppresses=HARD),
        # A recipient suppressed after its mail was accepted: held back by the worker, never sent.
        Kind("withheld", EventType.INVALID, (S.SENDING,), S.INVALID),
        # Delivery status notifications (sending.delivery.bounces): a failure after the hand-over.
        Kind("bounced", EventType.FAILED, _BOUNCEABLE, S.FAILED),
        Kind("hard_bounced", EventType.INVALID, _BOUNCEABLE, S.INVALID, suppresses=HARD),
        Kind("delayed", EventType.DEFERRED),  # a DSN saying a server down the line is still trying
        Kind("opened", EventType.OPENED),
        Kind("clicked", EventType.CLICKED),
        Kind("unsubscribed", EventType.UNSUBSCRIBED),
        # A feedback-loop report (sending.complaints): "this is spam", once per message.
        Kind("complained", EventType.COMPLAINED, suppresses=SuppressionReason.COMPLAINT),
    )
}


@dataclass(frozen=True)
class Event:
    """One thing that happened to one message. `first`: an open or click that is the message's first."""

    kind: str
    message: Message
    detail: dict[str, Any] = field(default_factory=dict)
    first: bool = False

    @property
    def stored(self) -> str:
        return KINDS[self.kind].stored


Listener = Callable[[list[Event], datetime], None]
_listeners: list[tuple[frozenset[str], Listener]] = []


def listen(listener: Listener, kinds: Iterable[str] | None = None) -> None:
    """Call `listener(events, at)` with every recorded batch's events of `kinds` (all kinds by default),
    inside the transaction that records them. Registered in an AppConfig.ready; registering twice is
    registering once."""
    wanted = frozenset(KINDS if kinds is None else kinds)
    unknown = wanted - KINDS.keys()
    if unknown:
        raise ValueError(f"unknown event kinds: {sorted(unknown)}")
    if all(registered is not listener for _kinds, registered in _listeners):
        _listeners.append((wanted, listener))


def record(
    events: Sequence[Event],
    *,
    at: datetime | None = None,
    where: Q | None = None,
    changes: dict[str, Any] | None = None,
) -> list[Event]:
    """Record `events` (see the module's docstring); returns those recorded. Call inside a transaction.

    Events whose kind changes the state must all be of one kind in a call: their messages move to its
    state, with `changes` (more fields to set) where they match `where`. Events of kinds that create their
    message need it saved already, in the kind's state."""
    at = at or timezone.now()
    moved = _move(
        [e for e in events if KINDS[e.kind].moves_from and not KINDS[e.kind].creates], where, changes
    )
    recorded = []
    for event in events:
        kind = KINDS[event.kind]
        if kind.creates and (
            event.message.pk is None or event.message.state not in (kind.to, *kind.or_created_as)
        ):
            raise ValueError(f"a {kind.name} event needs its message saved as {kind.to}")
        if not kind.moves_from or kind.creates or event.message.pk in moved:
            recorded.append(event)
    if not recorded:
        return recorded
    rows.insert(
        [
            MessageEvent(
                message_id=e.message.pk,
                account_id=e.message.account_id,
                type=e.stored,
                at=at,
                detail=e.detail,
            )
            for e in recorded
        ]
    )
    _suppress([e for e in recorded if KINDS[e.kind].suppresses], at)
    for kinds, listener in _listeners:
        heard = [e for e in recorded if e.kind in kinds]
        if heard:
            listener(heard, at)
    return recorded


def _move(events: list[Event], where: Q | None, changes: dict[str, Any] | None) -> set[int]:
    """Apply the one kind's state change to the events' messages that may take it; their pks."""
    if not events:
        return set()
    kinds = {e.kind for e in events}
    if len(kinds) > 1:
        raise ValueError(f"one kind of state change per call, not {sorted(kinds)}")
    kind = KINDS[kinds.pop()]
    pks = [e.message.pk for e in events]
    allowed = Message.objects.filter(pk__in=pks, state__in=kind.moves_from)
    if where is not None:
        allowed = allowed.filter(where)
    fields = {**(changes or {}), "state": kind.to}
    if len(pks) == 1:  # one statement: the conditional UPDATE says whether it applied
        return set(pks) if allowed.update(**fields) else set()
    # Locked as they are read (PostgreSQL; SQLite's writer holds the database), so nobody takes them over
    # between the read and the update.
    taken = set(allowed.select_for_update().values_list("pk", flat=True))
    if taken:
        Message.objects.filter(pk__in=taken).update(**fields)
    return taken


def _suppress(events: list[Event], at: datetime) -> None:
    """Hard bounces and complaints: the recipient is on the account's list for all its mail (an entry there
    is kept)."""
    if events:
        Suppression.objects.bulk_create(
            [
                Suppression(
                    account_id=e.message.account_id,
                    address=e.message.rcpt.lower(),
                    scope="",
                    reason=KINDS[e.kind].suppresses,
                    message_id=e.message.pk,
                    detail=str(e.detail.get("text", ""))[:500],
                    created_at=at,
                )
                for e in events
            ],
            ignore_conflicts=True,
        )
