"""Accepting mail: the one service every entry point (API, SMTP, batch sends, the console) enqueues through.

It validates everything, drops suppressed recipients (counted as invalid), reserves quota atomically, and
writes the envelope, one Message per recipient and their events in ONE transaction. Only after it returns
may the caller answer 250 / HTTP 200. A database failure raises TemporaryFailure (451 / HTTP 503).
"""

import contextlib
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_email
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts.errors import ServiceError
from accounts.models import Account
from directmail.db import rows
from sending import events
from sending import headers as header_rules
from sending.events import Event
from sending.models import (
    FILTER_LEVELS,
    Envelope,
    EnvelopeAttachment,
    Message,
    MessageState,
    QuotaCounter,
    SenderAddress,
    SendType,
    Tag,
    suppression_scopes,
)
from templates_app import rendering

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 100
MAX_BCC = 2  # DirectMail's BccAddress limit
MAX_SUBJECT = 256  # DirectMail's Subject limit (characters)
MAX_BODY_BYTES = 8 * 1024 * 1024  # HtmlBody and TextBody each, as DirectMail takes them through a body
MAX_ATTACHMENTS = 100
# DirectMail's limit on a mail with attachments: 15 MB as sent, headers, bodies and base64 included.
MAX_MAIL_BYTES = 15 * 1024 * 1024
MAX_HEADERS = 10
MAX_FROM_ALIAS = 15
_ALLOWED_HEADER = re.compile(
    r"^(X-User-[A-Za-z0-9-]+|Message-ID|List-Unsubscribe|List-Unsubscribe-Post)$", re.I
)
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ":" (RFC 5322 field name)
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 4000
_MESSAGE_ID = re.compile(r"^<[!-;=?-~]+@[!-;=?-~]+>$")  # RFC 5322 msg-id: printable, no <>


class EnqueueError(ServiceError):
    """Refused mail, with a DirectMail-style code and the parameter at fault."""

    def __init__(self, code: str, message: str, param: str = ""):
        super().__init__(message)
        self.code, self.param = code, param


class QuotaExhausted(EnqueueError):
    def __init__(self, message: str):
        super().__init__("QuotaExhausted", message)


class TemporaryFailure(Exception):
    """The mail could not be stored and nothing was accepted: callers answer 451 / HTTP 503."""


@dataclass(frozen=True)
class Attachment:
    """A file sent with the mail, as fetched (sending.services.attachments)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Content:
    """What a mail says and how it is built: its envelope's fields.

    `templated` mail has {Variable} placeholders, filled at delivery from each recipient's variables.
    `raw_message` is an SMTP submission's message, relayed as it is (the subject is then only for people
    reading the log; the SMTP server checked the message itself)."""

    subject: str = ""
    html_body: str = ""
    text_body: str = ""
    from_alias: str = ""
    reply_to: str = ""
    reply_to_alias: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    click_trace: bool = False
    open_trace: bool = False
    use_sender_reply_to: bool = True  # the sender address's verified reply-to applies when reply_to is ""
    templated: bool = False
    raw_message: bytes | None = None
    attachments: tuple[Attachment, ...] = ()
    # DirectMail's unsubscribe handling (the Envelope fields of the same names): a link and its
    # List-Unsubscribe headers, at the providers DirectMail lists only, and the filter level.
    unsubscribe_link: bool = False
    unsubscribe_level: str = "domain"
    unsubscribe_providers_only: bool = False
    unsubscribe_filter: str = ""

    def envelope_fields(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "attachments"}
        values["headers"] = dict(self.headers)
        values["attachment_count"] = len(self.attachments)
        return values


@dataclass(frozen=True)
class Mail:
    """A request to send, as the API, SMTP, the console and scripts give it: checked by mail_prepare.

    `sender` is a SenderAddress of the account or its address; `to` comma-separated or a list; `bcc` (at
    most MAX_BCC) get identical copies whose To header shows `to`, untracked.
    `variables` are a templated mail's values by recipient (addresses compared case-insensitively).
    `suppressed` is the account's suppressed addresses among the recipients when the caller looked them up
    already (for many messages at once); None: they are looked up."""

    account: Account
    sender: SenderAddress | str
    to: str | Sequence[str]
    content: Content
    tag_name: str = ""
    variables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    bcc: str | Sequence[str] = ()
    suppressed: frozenset[str] | None = None
    source: str = Envelope.Source.SERVICE
    max_recipients: int = MAX_RECIPIENTS
    ip_pool_id: int | None = None  # the call's IpPoolId, checked (sending.egress.route_of)


@dataclass(frozen=True)
class PreparedMail:
    """A mail that passed every check, ready for mail_store."""

    account: Account
    sender: SenderAddress
    recipients: tuple[str, ...]
    suppressed: frozenset[str]  # lower-case addresses on the suppression list: recorded as invalid
    tag: Tag | None
    variables: Mapping[str, Mapping[str, Any]]  # by lower-case address
    source: str
    content: Content
    bcc: tuple[str, ...] = ()  # Bcc copies' addresses (none of them among `recipients`)
    ip_pool_id: int | None = None


@dataclass(frozen=True)
class Enqueued:
    env_id: str
    accepted: int  # recipients queued for delivery
    invalid: int  # recipients dropped (suppressed), recorded as invalid messages
    envelope_id: int = 0


def _no_line_breaks(value: str, param: str) -> str:
    """Refuse line breaks and other control characters (NUL, ESC, ...) in a header value, also when hidden
    in an encoded word (=?utf-8?q?=0D=0A?=): sending.headers."""
    if header_rules.has_control(value):
        raise EnqueueError(
            "InvalidParameter",
            _("%(param)s must not contain line breaks or control characters.") % {"param": param},
            param,
        )
    return value


def _ascii_twin(local: str) -> str:
    """The local part with non-ASCII letters as "x": its shape checked by Django's validator."""
    if any(not c.isprintable() or c.isspace() for c in local):
        raise ValidationError("control or space character")
    return "".join(c if c.isascii() else "x" for c in local)


# Django's EmailValidator patterns, compiled once: the validator reaches them through lazy objects, which
# cost more than the match when an import checks 100,000 addresses. Anything they refuse goes to the full
# validator (address literals, "localhost"), so the verdict is Django's.
_USER_PART = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_DOMAIN_PART = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
_LINE_BREAK = re.compile(r"[\r\n\x00]")


def normalize_address(address: str) -> str:
    """A deliverable address as we store it (the domain lower-case, IDN in A-label form), checked by syntax
    only (no DNS); raises ValidationError."""
    if len(address) > 254 or _LINE_BREAK.search(address):
        raise ValidationError("line break or too long")
    local, _sep, domain = address.rpartition("@")
    if domain.isascii():
        domain = domain.lower()
    else:
        try:
            domain = domain.encode("idna").decode("ascii").lower()  # IDN domains travel in A-label form
        except UnicodeError as exc:
            raise ValidationError("bad domain") from exc
    # Django's validator knows ASCII local parts; a UTF-8 one (RFC 6531) is checked in its ASCII twin.
    checked = local if local.isascii() else _ascii_twin(local)
    if not (_sep and _USER_PART.match(checked) and _DOMAIN_PART.match(domain)):
        validate_email(f"{checked}@{domain}")
    return f"{local}@{domain}"


def parse_recipients(
    to: str | Sequence[str], limit: int = MAX_RECIPIENTS, *, param: str = "ToAddress", required: bool = True
) -> list[str]:
    """Comma-separated or a list; each a valid address; duplicates dropped; at most `limit`. Stops at the
    first address past the limit: a call with thousands is refused without checking them all. Refusals
    name `param`."""
    items = to.split(",") if isinstance(to, str) else list(to)
    recipients: list[str] = []
    seen: set[str] = set()
    for item in items:
        address = item.strip()
        if not address:
            continue
        _no_line_breaks(address, param)
        try:
            normalized = normalize_address(address)
        except ValidationError as exc:
            raise EnqueueError(
                "InvalidToAddress" if param == "ToAddress" else "InvalidParameter",
                _("%(address)s is not a valid address.") % {"address": address[:254]},
                param,
            ) from exc
        if normalized.lower() in seen:
            continue
        if len(recipients) == limit:
            raise EnqueueError(
                "InvalidToAddress.Exceeded",
                _("At most %(limit)s recipients per message; got %(count)s.")
                % {"limit": limit, "count": sum(1 for item in items if item.strip())},
                param,
            )
        seen.add(normalized.lower())
        recipients.append(normalized)
    if not recipients and required:
        raise EnqueueError("InvalidToAddress", _("Give at least one recipient."), "ToAddress")
    return recipients


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """The caller's own headers: allowed names within RFC 5322's sizes, text only. One of ours (Message-ID,
    List-Unsubscribe) given here replaces ours when the message is built."""
    if len(headers) > MAX_HEADERS:
        raise EnqueueError("InvalidHeaders", _("At most %(n)s headers.") % {"n": MAX_HEADERS}, "Headers")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not _HEADER_NAME.match(name) or not _ALLOWED_HEADER.match(name):
            raise EnqueueError(
                "InvalidHeaders",
                _("Header %(name)s is not allowed: use X-User-*, Message-ID or List-Unsubscribe(-Post).")
                % {"name": name[:80]},
                "Headers",
            )
        if len(name) > MAX_HEADER_NAME or len(value) > MAX_HEADER_VALUE:
            raise EnqueueError(
                "InvalidHeaders",
                _("Header names are at most %(name)s characters and values at most %(value)s.")
                % {"name": MAX_HEADER_NAME, "value": MAX_HEADER_VALUE},
                "Headers",
            )
        if name.lower() in {known.lower() for known in checked}:
            raise EnqueueError(
                "InvalidHeaders", _("Header %(name)s is given twice.") % {"name": name}, "Headers"
            )
        _no_line_breaks(value, f"Headers.{name}")
        if name.lower() == "message-id" and not _MESSAGE_ID.match(value.strip()):
            raise EnqueueError(
                "InvalidHeaders", _("Message-ID must look like <unique-part@your-domain>."), "Headers"
            )
        checked[name] = value.strip() if name.lower() == "message-id" else value
    return checked


def check_reply_to(address: str, alias: str) -> None:
    """An explicit Reply-To (ReplyAddress, ReplyAddressAlias): one valid address, no line breaks."""
    _no_line_breaks(alias, "ReplyAddressAlias")
    if address:
        _no_line_breaks(address, "ReplyAddress")
        try:
            validate_email(address)
        except ValidationError as exc:
            message = _("ReplyAddress is not valid.")
            raise EnqueueError("InvalidReplyAddress", message, "ReplyAddress") from exc


def _period_starts(account: Account) -> tuple[date, date]:
    today = account.today()
    return today, today.replace(day=1)


# QuotaCounter's table; the unique constraint quota_counter_unique is the conflict target. Both periods in
# one statement: a row comes back for each period that had room (and took the count).
_RESERVE_SQL = (
    "INSERT INTO sending_quotacounter (account_id, period, start, used) VALUES (%s, %s, %s, %s), "
    "(%s, %s, %s, %s) ON CONFLICT (account_id, period, start) DO UPDATE "
    "SET used = sending_quotacounter.used + excluded.used "
    "WHERE sending_quotacounter.used + excluded.used "
    "<= CASE excluded.period WHEN %s THEN %s ELSE %s END RETURNING period"
)


def reserve_quota(account: Account, count: int) -> None:
    """Count `count` more messages against the daily and monthly quota, or raise QuotaExhausted (and count
    nothing).

    One conditional upsert of both periods is the reservation (PostgreSQL and SQLite >= 3.35 alike):
    concurrent senders at the boundary cannot both pass it, and the common case costs one statement.
    """
    day, month = _period_starts(account)
    DAY, MONTH = QuotaCounter.Period.DAY, QuotaCounter.Period.MONTH
    limits: dict[str, int] = {DAY: account.limit("daily_quota"), MONTH: account.limit("monthly_quota")}
    starts: dict[str, date] = {DAY: day, MONTH: month}
    taken: set[str] = set()
    if count <= min(limits.values()):
        day_value, month_value = (connection.ops.adapt_datefield_value(d) for d in (day, month))
        with connection.cursor() as cursor:
            cursor.execute(
                _RESERVE_SQL,
                [
                    account.pk, DAY, day_value, count,
                    account.pk, MONTH, month_value, count,
                    DAY, limits[DAY], limits[MONTH],
                ],
            )  # fmt: skip
            taken = {row[0] for row in cursor.fetchall()}
    if len(taken) == len(limits):
        return
    # Give back what a period with room took: in a group commit the transaction goes on.
    for period in taken:
        QuotaCounter.objects.filter(account=account, period=period, start=starts[period]).update(
            used=F("used") - count
        )
    fits = count <= min(limits.values())  # else the statement did not run: a period is too small for it
    period = next(p for p in limits if (p not in taken if fits else limits[p] < count))
    counter = QuotaCounter.objects.filter(account=account, period=period, start=starts[period]).first()
    raise QuotaExhausted(
        _("The %(period)s quota is used up: %(used)s of %(limit)s sent, %(count)s more asked for.")
        % {
            "period": QuotaCounter.Period(period).label.lower(),
            "used": counter.used if counter else 0,
            "limit": limits[period],
            "count": count,
        }
    )


def quota_used(account: Account, period: str) -> int:
    day, month = _period_starts(account)
    start = day if period == QuotaCounter.Period.DAY else month
    counter = QuotaCounter.objects.filter(account=account, period=period, start=start).first()
    return counter.used if counter else 0


def suppressed_among(
    account_id: int, addresses, sender_address: str | None = None, level: str = ""
) -> set[str]:
    """The lower-case addresses among `addresses` on the account's suppression list (not expired): its
    account-wide entries, and with `sender_address` also those for that address or its domain; for an
    account at the GLOBAL suppression list level (SetSuppressionListLevel) also every account's hard bounces.
    `level` is the mail's unsubscribe filter level (sending.models.suppression_applies says what it does).

    Asked for every SMTP recipient and every message, so it is one plain statement (the ORM spent 25 times
    the query's own time building it); the table and columns are Suppression's.
    """
    wanted = sorted({a.lower() for a in addresses})
    if not wanted:
        return set()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    scopes = suppression_scopes(sender_address) if sender_address else [""]
    placeholders = ", ".join(["%s"] * len(wanted))
    covers = f"scope IN ({', '.join(['%s'] * len(scopes))})"
    covered: list[str] = list(scopes)
    if sender_address and level not in ("", "mailfrom"):
        # Unsubscribes by the level, everything else by the scopes that cover the sender.
        unsubscribes = {"mailfrom_domain": f"({covers} OR scope LIKE %s)", "edm_id": "1 = 1"}
        covers = f"(reason <> 'unsubscribe' AND {covers} OR reason = 'unsubscribe' AND "
        covers += unsubscribes.get(level, "1 = 0") + ")"
        if level == "mailfrom_domain":
            covered += [*scopes, "%@" + sender_address.rpartition("@")[2].lower()]
    sql = (
        "SELECT address FROM sending_suppression WHERE account_id = %s "  # noqa: S608 - placeholders only
        f"AND address IN ({placeholders}) AND {covers} "
        "AND (expires_at IS NULL OR expires_at >= %s) "
        "UNION SELECT address FROM sending_suppression "
        f"WHERE address IN ({placeholders}) AND scope = '' AND reason = 'hard_bounce' "
        "AND (expires_at IS NULL OR expires_at >= %s) "
        "AND EXISTS (SELECT 1 FROM accounts_account WHERE id = %s AND suppression_list_level = 'GLOBAL')"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id, *wanted, *covered, now, *wanted, now, account_id])
        return {row[0] for row in cursor.fetchall()}


KICK_SLOT_SECONDS = 10
# How long a process keeps trying a kick the cache or broker refused (once a second, in one thread).
KICK_RETRY_SECONDS = 300

_owed_kick = threading.Lock()  # held by the one thread retrying a refused kick


def kick_delivery() -> None:
    """Start a delivery task unless enough are already waiting to start.

    One task drains everything that is due, so a burst of a thousand accepted messages needs a few tasks,
    not a thousand. Each waiting task holds a slot in the shared cache and frees it as it starts; a slot
    held longer than KICK_SLOT_SECONDS belonged to a task lost with its worker, and the next kick takes it
    (a dead cluster must not stop delivery on the healthy ones).

    Called after the mail was committed, so nothing here may turn an accepted message into a refusal: when
    the cache or the broker is down, one thread of this process tries again every second, and the mail
    goes out within a second of their return (the every-minute schedule is the safety net beyond that).
    """
    try:
        _kick()
    except Exception:
        if _owed_kick.acquire(blocking=False):  # logged once per outage, not once per message
            log.warning("could not start delivery (cache or broker unavailable); retrying", exc_info=True)
            threading.Thread(target=_kick_when_back, name="kick-delivery", daemon=True).start()


def kick_owed() -> bool:
    """Whether this process is still retrying a kick the cache or broker refused."""
    return _owed_kick.locked()


def _kick() -> None:
    slots = [f"delivery:kick:{slot}" for slot in range(settings.Q_CLUSTER["workers"])]
    taken = cache.get_many(slots)  # a read: with every slot taken (the busy case) nothing is written
    for slot, key in enumerate(slots):
        if key not in taken and cache.add(key, 1, timeout=KICK_SLOT_SECONDS):
            try:
                async_task("sending.tasks.deliver_due", slot)
            except Exception:
                with contextlib.suppress(Exception):
                    cache.delete(key)  # no task holds it: the retry must find it free
                raise
            return


def _kick_when_back() -> None:
    """Retry a refused kick (see kick_delivery) until it goes through or KICK_RETRY_SECONDS pass."""
    try:
        deadline = time.monotonic() + KICK_RETRY_SECONDS
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                _kick()
            except Exception:  # noqa: S112 - still down; the warning was logged once
                continue
            log.info("delivery started: the cache and broker are back")
            return
        log.warning("gave up kicking delivery after %s s; the every-minute schedule will", KICK_RETRY_SECONDS)
    finally:
        connections.close_all()  # this thread's own database connections (the ORM broker, a database cache)
        _owed_kick.release()


def personal_subject(envelope: Envelope, rcpt: str, variables: Mapping[str, Any]) -> str:
    """A templated envelope's subject as this recipient gets it (stored for lists and search), or ""."""
    if not envelope.templated or "{" not in envelope.subject:
        return ""
    return rendering.render_subject(envelope.subject, {"EAddr": rcpt, **variables})[:998]


def new_env_id() -> str:
    return str(10**17 + secrets.randbelow(9 * 10**17))


def mail_prepare(mail: Mail) -> PreparedMail:
    """Check everything about a mail before any write (no transaction, no lock held): the sender, the
    recipients and which of them are suppressed, subject, bodies, headers, tag. Refuses with an
    EnqueueError; what it returns, mail_store writes."""
    account, sender, content = mail.account, mail.sender, mail.content
    if isinstance(sender, str):
        # Read for every message: plain SQL built once (directmail.db.rows); one alive sender per address.
        sender_obj = rows.select_one(
            SenderAddress,
            "t0.account_id = %s AND t0.address = %s AND t0.deleted_at IS NULL",
            [account.pk, sender.lower()],
            related=("domain",),
        )
        if sender_obj is None:
            raise EnqueueError(
                "InvalidMailAddress.NotFound",
                _("%(address)s is not a sender address of this account.") % {"address": sender},
                "AccountName",
            )
        sender = sender_obj
    elif sender.account_id != account.pk or sender.deleted_at is not None:
        raise EnqueueError("InvalidMailAddress.NotFound", _("Unknown sender address."), "AccountName")
    if not sender.domain.can_send:
        raise EnqueueError(
            "InvalidDomain.NotVerified",
            _("%(domain)s is not verified: sending from it is stopped.") % {"domain": sender.domain.name},
            "AccountName",
        )
    content = _resolve_unsubscribe(content, sender)
    recipients = parse_recipients(mail.to, mail.max_recipients)
    to = {r.lower() for r in recipients}
    bcc = [
        address
        for address in parse_recipients(mail.bcc, MAX_BCC, param="BccAddress", required=False)
        if address.lower() not in to  # a recipient gets the mail once
    ]
    if content.raw_message is None:
        _no_line_breaks(content.subject, "Subject")
        if not content.subject.strip():
            raise EnqueueError("InvalidSubject.Malformed", _("The subject is empty."), "Subject")
        if len(content.subject) > MAX_SUBJECT:
            raise EnqueueError(
                "InvalidSubject.Malformed",
                _("The subject is at most %(n)s characters.") % {"n": MAX_SUBJECT},
                "Subject",
            )
        if not content.html_body and not content.text_body:
            raise EnqueueError("InvalidBody", _("Give an HTML body, a text body or both."), "HtmlBody")
        for param, body in (("HtmlBody", content.html_body), ("TextBody", content.text_body)):
            if len(body) > MAX_BODY_BYTES // 4 and len(body.encode()) > MAX_BODY_BYTES:
                raise EnqueueError("InvalidBody", _("%(param)s is at most 8 MB.") % {"param": param}, param)
    check_attachments(content)
    _no_line_breaks(content.from_alias, "FromAlias")
    # A template's sender name (TemplateNickName) may have 30 characters, as DirectMail's.
    if len(content.from_alias) > (30 if content.templated else MAX_FROM_ALIAS):
        raise EnqueueError(
            "InvalidFromAlias",
            _("FromAlias is at most %(n)s characters.") % {"n": MAX_FROM_ALIAS},
            "FromAlias",
        )
    check_reply_to(content.reply_to, content.reply_to_alias)
    headers = check_headers(dict(content.headers))
    tag = None
    if mail.tag_name:
        # unique: no ORDER BY
        tag = next(iter(Tag.objects.filter(account=account, name=mail.tag_name)[:1]), None)
        if tag is None:
            raise EnqueueError(
                "InvalidTag.NotFound",
                _("There is no tag named %(name)s.") % {"name": mail.tag_name},
                "TagName",
            )
    wanted = to | {b.lower() for b in bcc}
    if mail.suppressed is None:
        suppressed = frozenset(
            suppressed_among(account.pk, [*recipients, *bcc], sender.address, content.unsubscribe_filter)
        )
    else:
        suppressed = frozenset(address for address in mail.suppressed if address in wanted)
    return PreparedMail(
        account=account,
        sender=sender,
        recipients=tuple(recipients),
        suppressed=suppressed,
        tag=tag,
        variables={address.lower(): data for address, data in mail.variables.items()},
        source=mail.source,
        content=replace(content, headers=headers),
        bcc=tuple(bcc),
        ip_pool_id=mail.ip_pool_id,
    )


def _resolve_unsubscribe(content: Content, sender: SenderAddress) -> Content:
    """DirectMail's "default" unsubscribe handling, by the sender's type: batch addresses filter at the
    sender-address level and carry the link at the listed providers; trigger addresses neither."""
    if content.unsubscribe_filter not in ("", *FILTER_LEVELS):
        raise EnqueueError(
            "InvalidParameter",
            _("UnSubscribeFilterLevel must be one of %(values)s.") % {"values": ", ".join(FILTER_LEVELS)},
            "UnSubscribeFilterLevel",
        )
    batch = sender.send_type == SendType.BATCH
    if content.unsubscribe_filter == "default":
        content = replace(content, unsubscribe_filter="mailfrom" if batch else "disabled")
    if content.unsubscribe_link and content.unsubscribe_providers_only and not batch:
        content = replace(content, unsubscribe_link=False)
    return content


def check_attachments(content: Content) -> None:
    """At most MAX_ATTACHMENTS, and the mail as sent (base64 grows files by a third) within MAX_MAIL_BYTES."""
    if not content.attachments:
        return
    if len(content.attachments) > MAX_ATTACHMENTS:
        raise EnqueueError(
            "InvalidAttachment",
            _("At most %(n)s attachments per mail.") % {"n": MAX_ATTACHMENTS},
            "Attachments",
        )
    size = sum(len(a.data) * 4 // 3 + 300 for a in content.attachments)
    size += len(content.html_body.encode()) + len(content.text_body.encode()) + 4096
    if size > MAX_MAIL_BYTES:
        raise EnqueueError(
            "InvalidAttachment",
            _("The mail with its attachments would be %(size)s MB as sent; the limit is 15 MB.")
            % {"size": f"{size / 1024 / 1024:.1f}"},
            "Attachments",
        )


def mail_store(prepared: PreparedMail, *, savepoint: bool = True) -> Enqueued:
    """Reserve quota and write the envelope, its messages and their events: the short part that holds the
    database's write lock. Call it inside a transaction (the caller's, so its own writes commit with the
    mail) or on its own. A database failure raises TemporaryFailure and nothing is accepted.

    `savepoint=False` saves two statements for a caller whose transaction ends with any refusal anyway.
    """
    [result] = mail_store_many([prepared], savepoint=savepoint)
    if isinstance(result, EnqueueError):
        raise result
    return result


def mail_store_many(batch: list[PreparedMail], *, savepoint: bool = True) -> list[Enqueued | EnqueueError]:
    """Store several prepared messages in ONE transaction (one commit, a few statements for all of them).

    Each is accepted or refused on its own (a used-up quota refuses the messages past it, in order); a
    database failure raises TemporaryFailure and none of them is accepted.
    """
    try:
        with transaction.atomic(savepoint=savepoint):
            return _store_many(batch)
    except DatabaseError as exc:
        raise TemporaryFailure(str(exc)) from exc


def message_enqueue(mail: Mail) -> Enqueued:
    """Accept a message for each recipient, durably, or refuse it whole with an EnqueueError."""
    return mail_store(mail_prepare(mail))


def _store_many(batch: list[PreparedMail]) -> list[Enqueued | EnqueueError]:
    results: list[Enqueued | EnqueueError | None] = [None] * len(batch)
    wanted = [[r for r in (*p.recipients, *p.bcc) if r.lower() not in p.suppressed] for p in batch]
    # The quota of each account in one reservation for the whole batch; only when that fails, message by
    # message, in order, so exactly those past the boundary are refused.
    by_account: dict[int, list[int]] = {}
    for index, p in enumerate(batch):
        if wanted[index]:
            by_account.setdefault(p.account.pk, []).append(index)
    for indexes in by_account.values():
        account = batch[indexes[0]].account
        try:
            reserve_quota(account, sum(len(wanted[i]) for i in indexes))
        except QuotaExhausted:
            for index in indexes:
                try:
                    reserve_quota(account, len(wanted[index]))
                except QuotaExhausted as exc:
                    results[index] = exc
    storing = [(index, p) for index, p in enumerate(batch) if results[index] is None]
    # An EnvId collision (one in 10^17) fails the transaction: the callers answer 451 / 503 and the
    # clients' retries get new ones.
    envelopes = [
        Envelope(
            env_id=new_env_id(),
            account=p.account,
            sender=p.sender,
            tag=p.tag,
            tag_name=p.tag.name if p.tag else "",
            source=p.source,
            visible_to=", ".join(p.recipients) if p.bcc else "",
            ip_pool_id=p.ip_pool_id,
            config_set_id=p.sender.config_set_id,
            **p.content.envelope_fields(),
        )
        for _index, p in storing
    ]
    rows.insert(envelopes)
    rows.insert(
        [
            EnvelopeAttachment(
                envelope=envelope,
                position=number,
                filename=a.filename,
                content_type=a.content_type,
                data=a.data,
            )
            for envelope, (_index, p) in zip(envelopes, storing, strict=True)
            for number, a in enumerate(p.content.attachments)
        ]
    )
    now = timezone.now()
    messages: list[Message] = []
    for envelope, (_index, p) in zip(envelopes, storing, strict=True):
        first = p.variables.get(p.recipients[0].lower(), {})
        messages += [
            _new_message(
                envelope,
                rcpt,
                p.variables.get(rcpt.lower(), first),  # a Bcc copy is the first recipient's mail
                now,
                suppressed=rcpt.lower() in p.suppressed,
                bcc=number >= len(p.recipients),
            )
            for number, rcpt in enumerate((*p.recipients, *p.bcc))
        ]
    _accept(messages, now)
    for envelope, (index, p) in zip(envelopes, storing, strict=True):
        everyone = (*p.recipients, *p.bcc)
        invalid = sum(1 for rcpt in everyone if rcpt.lower() in p.suppressed)
        results[index] = Enqueued(envelope.env_id, len(everyone) - invalid, invalid, envelope.pk)
    return results  # type: ignore[return-value]  # every index is an Enqueued or an EnqueueError now


def messages_add(
    envelope: Envelope,
    recipients: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    spacing: timedelta | None = None,
) -> list[Message]:
    """Queue more messages of a stored envelope (a batch job's fan-out): reserve their quota (or raise
    QuotaExhausted), write them and their acceptance. `recipients` are (address, variables), checked and
    not suppressed; `spacing` paces them (the n-th is due n spacings from now). Call in a transaction,
    with the envelope's account and sender loaded."""
    if not recipients:
        return []
    reserve_quota(envelope.account, len(recipients))
    now = timezone.now()
    spacing = spacing or timedelta(0)
    messages = [
        _new_message(envelope, rcpt, variables, now, due=now + spacing * number)
        for number, (rcpt, variables) in enumerate(recipients)
    ]
    _accept(messages, now)
    return messages


def _new_message(
    envelope: Envelope,
    rcpt: str,
    variables: Mapping[str, Any],
    now: datetime,
    *,
    due: datetime | None = None,
    suppressed: bool = False,
    bcc: bool = False,
) -> Message:
    """A new Message of `envelope` for `rcpt`: queued (due now or at `due`), or invalid when suppressed."""
    return Message(
        envelope=envelope,
        account=envelope.account,
        rcpt=rcpt,
        rcpt_domain=rcpt.rpartition("@")[2],
        message_id=f"{uuid.uuid4().hex}.{envelope.env_id}@{envelope.sender.domain.name}",
        state=MessageState.INVALID if suppressed else MessageState.QUEUED,
        next_attempt_at=due or now,
        give_up_at=now + timedelta(seconds=settings.DELIVERY_GIVE_UP),
        variables=dict(variables),
        subject=personal_subject(envelope, rcpt, variables),
        finished_at=now if suppressed else None,
        last_error="suppressed" if suppressed else "",
        bcc=bcc,
        created_at=now,
    )


def _accept(messages: list[Message], now: datetime) -> None:
    """Write new messages and record their acceptance (and the suppressed ones' invalidity); queued ones
    start a delivery after the commit."""
    rows.insert(messages)
    accepted = [Event("accepted", m) for m in messages]
    suppressed = [
        Event("suppressed", m, {"reason": "suppressed"}) for m in messages if m.state == MessageState.INVALID
    ]
    events.record(accepted + suppressed, at=now)
    if len(suppressed) < len(messages):
        transaction.on_commit(kick_delivery, robust=True)
