"""Storing accepted SMTP messages durably, several at a time.

Sessions that finish DATA at about the same moment are stored together: one transaction, one commit and a
few bulk statements for all of them (group commit), each message still accepted or refused on its own. A
message is answered 250 only after its group committed; if the group cannot be stored, every message in
it is answered 451 and nothing is accepted. A message with an X-Idempotency-Key is stored on its own.
"""

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db import transaction

from directmail.db import rows
from sending.models import Envelope, SenderAddress
from sending.services import egress, idempotency
from sending.services import messages as service
from sending.smtp.controls import Refused, Submission

if TYPE_CHECKING:
    from sending.smtp.handler import Login

MAX_GROUP = 32
# Groups in flight per process. One: the next group gathers while this one commits, and bigger groups
# measured faster than two committers with half the messages each (SQLite and PostgreSQL alike).
COMMITTERS = 1


@dataclass
class Item:
    login: "Login"
    rcpts: list[str]
    submission: Submission
    ip: str


def _refusal(exc: service.EnqueueError) -> Refused:
    if isinstance(exc, service.QuotaExhausted):
        return Refused(f"451 4.7.1 {exc} Try again when the quota renews")
    if exc.code == "InvalidTag.NotFound":
        return Refused(f"504 5.5.2 Invalid setting: X-AliDM-Trace {exc}")
    return Refused(f"554 5.7.1 {exc}")


def _prepare(
    item: Item, sender: SenderAddress | None, suppressed: set[str] | None = None
) -> service.PreparedMail:
    if sender is None:
        raise Refused("535 5.7.8 This sender address was deleted; authenticate again")
    s = item.submission
    level = s.unsubscribe.get("FilterLevel", "default")
    pool_id = None
    if s.ip_pool:
        try:
            pool_id = egress.pool_by_id(sender.account, s.ip_pool).pk
        except egress.NotFound as exc:
            raise Refused(
                "550 5.7.1 Invalid setting: X-AliDM-Settings OutboundIp IpPoolId "
                f"{s.ip_pool[:64]} does not exist"
            ) from exc
    try:
        return service.mail_prepare(
            service.Mail(
                account=sender.account,
                sender=sender,
                to=item.rcpts,
                content=service.Content(
                    subject=s.subject,
                    click_trace=s.click_trace,
                    open_trace=s.open_trace,
                    raw_message=s.raw,
                    unsubscribe_link=s.unsubscribe.get("LinkType", "default") == "default",
                    unsubscribe_providers_only=True,
                    unsubscribe_filter=level,
                    unsubscribe_level=UNSUBSCRIBE_LEVELS.get(level, "sender"),
                ),
                tag_name=s.tag_name,
                suppressed=None if suppressed is None else frozenset(suppressed),
                source=Envelope.Source.SMTP,
                max_recipients=settings.SMTPD_MAX_RECIPIENTS,
                ip_pool_id=pool_id,
            )
        )
    except service.EnqueueError as exc:
        raise _refusal(exc) from exc


def _sender(sender_id: int) -> SenderAddress | None:
    # Read for every group: plain SQL built once (directmail.db.rows).
    where = "t0.id = %s AND t0.deleted_at IS NULL"
    return rows.select_one(SenderAddress, where, [sender_id], related=("account", "domain"))


def _senders(items: list[Item]) -> dict[int, SenderAddress]:
    """The alive sender addresses the items' sessions logged in as (usually one or two per group)."""
    ids = {item.login.sender_id for item in items}
    senders = {sender_id: _sender(sender_id) for sender_id in ids}
    return {sender_id: sender for sender_id, sender in senders.items() if sender is not None}


def store_one(item: Item) -> str:
    """A message with an idempotency key: its own transaction, with the key's record. Returns the EnvId."""
    sender = _senders([item]).get(item.login.sender_id)
    prepared = _prepare(item, sender, None)
    sender = prepared.sender
    key, fingerprint = item.submission.idempotency_key, item.submission.fingerprint
    try:
        replay = idempotency.known(sender.account, key, fingerprint)
        if replay:
            return replay
        with transaction.atomic():
            return idempotency.run_once(
                sender.account, key, fingerprint, lambda: service.mail_store(prepared).env_id
            )
    except idempotency.KeyConflict as exc:
        raise Refused(
            "554 5.7.0 X-Idempotency-Key was used with a different message within 24 hours"
        ) from exc
    except service.EnqueueError as exc:
        raise _refusal(exc) from exc


# DirectMail's Unsubscribe.FilterLevel -> the scope an unsubscribe from this mail records.
UNSUBSCRIBE_LEVELS = {"mailfrom": "sender", "mailfrom_domain": "domain", "edm_id": "account"}


def _suppression_key(item: Item, senders: dict[int, SenderAddress]) -> tuple[int, str, str]:
    """(account, sender address, filter level) an item's recipients are checked against the suppression
    list with; "default" resolved by the sender's type as the enqueue service resolves it."""
    level = item.submission.unsubscribe.get("FilterLevel", "default")
    if level == "default":
        sender = senders.get(item.login.sender_id)
        level = "mailfrom" if sender is not None and sender.send_type == "batch" else "disabled"
    return (item.login.account_id, item.login.address, level)


def store_group(items: list[Item]) -> list[str | Refused]:
    """EnvIds or refusals, in order. Runs in a database thread; TemporaryFailure fails them all."""
    senders = _senders(items)
    rcpts_by_sender: dict[tuple[int, str, str], set[str]] = {}
    for item in items:
        rcpts_by_sender.setdefault(_suppression_key(item, senders), set()).update(item.rcpts)
    suppressed = {
        key: service.suppressed_among(key[0], rcpts, key[1], key[2]) for key, rcpts in rcpts_by_sender.items()
    }
    results: list[str | Refused | None] = [None] * len(items)
    prepared: list[tuple[int, service.PreparedMail]] = []
    for index, item in enumerate(items):
        sender = senders.get(item.login.sender_id)
        try:
            key = _suppression_key(item, senders)
            prepared.append((index, _prepare(item, sender, suppressed[key])))
        except Refused as refused:
            results[index] = refused
    stored = service.mail_store_many([p for _index, p in prepared])
    for (index, _p), result in zip(prepared, stored, strict=True):
        results[index] = _refusal(result) if isinstance(result, service.EnqueueError) else result.env_id
    return cast(list[str | Refused], results)  # every index is filled now


class GroupCommitter:
    """Collects messages from the sessions of one process and stores them in groups (module docstring)."""

    def __init__(self, run_db):
        self.run_db = run_db
        self.queue: asyncio.Queue | None = None
        self.tasks: list[asyncio.Task] = []

    async def store(self, item: Item) -> str:
        """The message's EnvId once it is committed; raises Refused, or whatever failed the store."""
        if item.submission.idempotency_key:
            return await self.run_db(store_one, item)
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.tasks = [asyncio.create_task(self._commit_groups()) for _ in range(COMMITTERS)]
        done = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((item, done))
        return await done

    async def close(self) -> None:
        """Stop the committers (called when no session is left to ask them for anything)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    async def _commit_groups(self) -> None:
        queue = self.queue
        assert queue is not None  # made before the committers start
        while True:
            group = [await queue.get()]
            while len(group) < MAX_GROUP and not queue.empty():
                group.append(queue.get_nowait())
            try:
                results = await self.run_db(store_group, [item for item, _done in group])
            except Exception as exc:  # the whole group failed: every session hears it (451)
                for _item, done in group:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_item, done), result in zip(group, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, Refused):
                    done.set_exception(result)
                else:
                    done.set_result(result)
