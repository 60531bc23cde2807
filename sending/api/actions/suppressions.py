"""The suppression list over the API, as DirectMail splits it.

User suppressions (ListUserSuppression, CreateUserSuppression, RemoveUserSuppression): the account-wide
entries that stop mail to an address, added by hard bounces or by people. Blocked sending (ListBlockSending,
UnblockSending): what recipients asked for, unsubscribes (UNSUB) and complaints (REPORT), per sender.
GetSuppressionListLevel / SetSuppressionListLevel: USER, the account's own list, or GLOBAL, also every
account's hard bounces on this server. (QueryInvalidAddress and DeleteInvalidAddress, in reports, see the
whole list.) Every change is audited with the access key as the actor.
"""

from datetime import UTC, datetime, timedelta

from django.core import signing
from django.db.models import Q

from accounts.models import Account
from sending.api.actions import action, actor
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, epoch, refused
from sending.models import Suppression, SuppressionReason
from sending.services import suppressions as service

MAX_SPAN = timedelta(days=7)
USER_REASONS = (SuppressionReason.HARD_BOUNCE, SuppressionReason.MANUAL)
BLOCK_TYPES = {"UNSUB": SuppressionReason.UNSUBSCRIBE, "REPORT": SuppressionReason.COMPLAINT}
_CURSOR_SALT = "sending.api.block_sending"


def _moment(p: Params, name: str) -> datetime | None:
    seconds = p.integer(name, default=-1, minimum=-1, maximum=2**33)
    return None if seconds < 0 else datetime.fromtimestamp(seconds, tz=UTC)


def _span(p: Params, start_name: str, end_name: str, longest: timedelta | None = MAX_SPAN) -> Q:
    """A filter on created_at by two Unix times, at most `longest` apart when both are given."""
    start, end = _moment(p, start_name), _moment(p, end_name)
    if longest is not None and start and end and (end < start or end - start > longest):
        raise ApiError(
            "InvalidParameter", f"{start_name} and {end_name}: the end is after the start, at most 7 days."
        )
    query = Q()
    if start:
        query &= Q(created_at__gte=start)
    if end:
        query &= Q(created_at__lte=end)
    return query


def _address_filter(value: str) -> Q:
    """An address, or a domain (every address at it)."""
    value = value.strip().lower()
    if not value:
        return Q()
    return Q(address=value) if "@" in value else Q(address__endswith="@" + value.lstrip("@"))


@action("ListUserSuppression")
def list_user_suppression(caller: Caller, p: Params) -> dict:
    """Newest first. The bounce times filter the entries a bounce made (LastBounceTime is when it came)."""
    entries = caller.key.account.suppressions.filter(scope="", reason__in=USER_REASONS)
    entries = entries.filter(_address_filter(p.text("Address", max_length=254)))
    entries = entries.filter(_span(p, "StartCreateTime", "EndCreateTime"))
    bounced = _span(p, "StartBounceTime", "EndBounceTime")
    if bounced:
        entries = entries.filter(bounced, reason=SuppressionReason.HARD_BOUNCE)
    rows, paging = p.page(entries.order_by("-created_at", "-pk"))
    items = [
        {
            "SuppressionId": e.pk,
            "Address": e.address,
            "Type": e.reason,
            "CreateTime": epoch(e.created_at),
            "LastBounceTime": epoch(e.created_at) if e.reason == SuppressionReason.HARD_BOUNCE else 0,
        }
        for e in rows
    ]
    return {**paging, "Data": {"UserSuppressions": items}}


@action("CreateUserSuppression")
def create_user_suppression(caller: Caller, p: Params) -> dict:
    address = p.text("Address", required=True, max_length=254)
    if "@" not in address:
        raise ApiError(
            "InvalidParameter", "Address: give an email address; whole domains are not suppressed here."
        )
    with refused("Address", "InvalidAddress.Malformed"):
        entry = service.suppression_add(account=caller.key.account, address=address, actor=actor(caller))
    return {"SuppressionId": str(entry.pk)}


@action("RemoveUserSuppression")
def remove_user_suppression(caller: Caller, p: Params) -> dict:
    """SuppressionIds: comma-separated; all of them must be this account's, else nothing is removed."""
    values = [v.strip() for v in p.text("SuppressionIds", required=True).split(",") if v.strip()]
    if not values or not all(v.isdigit() for v in values) or len(values) > 100:
        raise ApiError("InvalidParameter", "SuppressionIds: 1 to 100 ids, separated by commas.")
    ids = {int(v) for v in values}
    entries = list(caller.key.account.suppressions.filter(pk__in=ids, scope=""))
    if missing := sorted(ids - {e.pk for e in entries}):
        raise ApiError(
            "InvalidSuppressionId.NotFound",
            f"SuppressionIds: {', '.join(map(str, missing))} not on this account's list.",
            404,
        )
    for entry in entries:
        service.suppression_remove(entry=entry, actor=actor(caller))
    return {}


LEVELS = ("USER", "GLOBAL")


@action("GetSuppressionListLevel")
def get_suppression_list_level(caller: Caller, p: Params) -> dict:
    return {"SuppressionListLevel": caller.key.account.suppression_list_level}


@action("SetSuppressionListLevel")
def set_suppression_list_level(caller: Caller, p: Params) -> dict:
    level = p.text("SuppressionListLevel", required=True).strip().upper()
    if level not in LEVELS:
        raise ApiError("InvalidParameter", "SuppressionListLevel must be USER or GLOBAL.")
    service.suppression_level_set(account=caller.key.account, level=level, actor=actor(caller))
    return {"SuppressionListLevel": level}


def _block_entries(account: Account, p: Params):
    block_type = p.text("BlockType", required=True).strip().upper()
    if block_type not in BLOCK_TYPES:
        raise ApiError("InvalidParameter", "BlockType must be UNSUB or REPORT.")
    entries = account.suppressions.filter(reason=BLOCK_TYPES[block_type])
    if block := p.text("BlockEmail", max_length=254).strip().lower():
        entries = entries.filter(address=block)
    if sender := p.text("SenderEmail", max_length=254).strip().lower():
        # Whose mail the entry stops: that sender address, its domain, or the whole account.
        entries = entries.filter(scope__in=["", "@" + sender.rpartition("@")[2], sender])
    return entries


def _sender_of(entry: Suppression) -> str:
    """The sender a block entry names: the address itself, a domain as "@domain", "" for the account."""
    if entry.message_id and entry.message is not None:
        return entry.message.envelope.sender.address
    return entry.scope


@action("ListBlockSending")
def list_block_sending(caller: Caller, p: Params) -> dict:
    """Unsubscribes (UNSUB) or complaints (REPORT), newest first; BeginTime/EndTime are Unix times on when
    they came; MaxResults 1-500 and NextToken page."""
    entries = _block_entries(caller.key.account, p).filter(_span(p, "BeginTime", "EndTime", longest=None))
    size = p.integer("MaxResults", default=100, minimum=1, maximum=500)
    if token := p.text("NextToken").strip():
        try:
            entries = entries.filter(pk__lt=int(signing.loads(token, salt=_CURSOR_SALT)))
        except (signing.BadSignature, TypeError, ValueError) as exc:
            raise ApiError("InvalidParameter", "NextToken is not a value a previous call returned.") from exc
    rows = list(entries.select_related("message__envelope__sender").order_by("-pk")[: size + 1])
    more, rows = len(rows) > size, rows[:size]
    data = [
        {
            "BlockEmail": e.address,
            "SenderEmail": _sender_of(e),
            "BlockTime": epoch(e.created_at),
            "SendTime": epoch(e.message.created_at) if e.message is not None else 0,
            "Reason": 0,  # why a recipient unsubscribed is not asked: "not specified"
        }
        for e in rows
    ]
    return {
        "Data": data,
        "MaxResults": size,
        "NextToken": signing.dumps(rows[-1].pk, salt=_CURSOR_SALT) if more else "",
    }


@action("UnblockSending")
def unblock_sending(caller: Caller, p: Params) -> dict:
    """Lift an unsubscribe or a complaint of BlockEmail for SenderEmail (the entries that stop that
    sender's mail: its own, its domain's and the account-wide one)."""
    p.text("BlockEmail", required=True)
    p.text("SenderEmail", required=True)
    entries = list(_block_entries(caller.key.account, p))
    if not entries:
        raise ApiError(
            "InvalidBlockEmail.NotFound", "BlockEmail: nothing blocks this address for this sender.", 404
        )
    for entry in entries:
        service.suppression_remove(entry=entry, actor=actor(caller))
    return {}
