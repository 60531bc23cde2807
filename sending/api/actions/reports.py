"""What happened to mail, over the API: SenderStatisticsDetailByParam (per-recipient log) and the
suppression list as DirectMail's invalid-address list (QueryInvalidAddress, DeleteInvalidAddress).

Both page with an opaque, signed NextStart, newest first.
"""

from datetime import timedelta

from sending.api.actions import action, actor
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, dm_time, epoch, refused
from sending.models import DeliveryAttempt, EventType, Message, MessageState, Suppression
from sending.services import egress
from sending.services.suppressions import suppression_remove

MAX_SPAN = timedelta(days=30)

# DirectMail's Status codes of a message (1, in progress, is ours: DirectMail lists only final mail).
STATUS_OF_STATE = {
    MessageState.DELIVERED: 0,
    MessageState.QUEUED: 1,
    MessageState.SENDING: 1,
    MessageState.DEFERRED: 1,
    MessageState.PAUSED: 1,
    MessageState.INVALID: 2,
    MessageState.CANCELLED: 4,
    MessageState.FAILED: 4,
}
CLASSIFICATION = {0: "SendOk", 1: "Pending", 2: "InvalidAddress", 3: "SpamComplaint", 4: "Failed"}


def _window(caller: Caller, p: Params, fmt: str, *, required: bool, step: timedelta):
    zone = caller.key.account.time_zone
    start = p.time("StartTime", fmt, zone, required=required)
    end = p.time("EndTime", fmt, zone, required=required)
    if end is not None:
        end += step  # EndTime names its whole minute (or day)
    if start and end:
        if end <= start:
            raise ApiError("InvalidParameter", "EndTime must not be before StartTime.")
        if end - start > MAX_SPAN + step:
            raise ApiError("InvalidParameter", "StartTime to EndTime spans at most 30 days.")
    return start, end


def _last_tls(pks: list[int]) -> dict[int, dict]:
    """The TLS of each message's last attempt that had any: {"Version", "Cipher", "Verified", "Policy"}."""
    found: dict[int, dict] = {}
    attempts = (
        DeliveryAttempt.objects.filter(message_id__in=pks)
        .exclude(tls_policy="")
        .order_by("message_id", "-at", "-id")
        .values_list("message_id", "tls_version", "tls_cipher", "tls_verified", "tls_policy")
    )
    for pk, version, cipher, verified, policy in attempts:
        found.setdefault(pk, {"Version": version, "Cipher": cipher, "Verified": verified, "Policy": policy})
    return found


@action("SenderStatisticsDetailByParam")
def sender_statistics_detail_by_param(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    with refused():
        by_egress = egress.egress_filter(
            account,
            pool_id=p.text("IpPoolId", max_length=64),
            config_set_id=p.text("ConfigSetId", max_length=64),
            names=("DedicatedIp", "IpPoolId", "ConfigSetId"),
        )
    start, end = _window(caller, p, "%Y-%m-%d %H:%M", required=True, step=timedelta(minutes=1))
    messages = Message.objects.filter(account=account, created_at__gte=start, created_at__lt=end)
    if by_egress is not None:
        messages = messages.filter(by_egress)
    if sender := p.text("AccountName", max_length=254).strip().lower():
        messages = messages.filter(envelope__sender__address=sender)
    if tag := p.text("TagName", max_length=128).strip():
        messages = messages.filter(envelope__tag_name=tag)
    if rcpt := p.text("ToAddress", max_length=254).strip():
        messages = messages.filter(rcpt__iexact=rcpt)
    status = p.integer("Status", default=-1, minimum=-1, maximum=4)
    if status == 3:
        messages = messages.filter(events__type=EventType.COMPLAINED)
    elif status >= 0:
        messages = messages.filter(state__in=[s for s, code in STATUS_OF_STATE.items() if code == status])
    rows, next_start = p.after_cursor(messages.select_related("envelope__sender"))
    complained = set(
        Message.objects.filter(pk__in=[m.pk for m in rows], events__type=EventType.COMPLAINED).values_list(
            "pk", flat=True
        )
    )
    tls = _last_tls([m.pk for m in rows])
    items = []
    for m in rows:
        code = 3 if m.pk in complained else STATUS_OF_STATE[m.state]
        updated = m.finished_at or m.created_at
        items.append(
            {
                "AccountName": m.envelope.sender.address,
                "ToAddress": m.rcpt,
                "Subject": m.subject or m.envelope.subject,
                "Status": code,
                "ErrorClassification": CLASSIFICATION[code],
                "BounceCategory": m.bounce_category,  # ours (sending.bounce_categories)
                "Tls": tls.get(m.pk, {}),  # ours: the last attempt's TLS (sending.tls_policy)
                "Message": f"{m.last_code or ''} {m.last_error}".strip() or MessageState(m.state).label,
                "LastUpdateTime": dm_time(updated, account.time_zone),
                "UtcLastUpdateTime": str(epoch(updated)),
                "EnvId": m.envelope.env_id,
                "MessageId": m.message_id,
                "TagName": m.envelope.tag_name,
            }
        )
    return {"NextStart": next_start, "data": {"mailDetail": items}}


@action("QueryInvalidAddress")
def query_invalid_address(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    start, end = _window(caller, p, "%Y-%m-%d", required=False, step=timedelta(days=1))
    entries = Suppression.objects.filter(account=account)
    if start:
        entries = entries.filter(created_at__gte=start)
    if end:
        entries = entries.filter(created_at__lt=end)
    if keyword := p.text("KeyWord", max_length=254).strip().lower():
        entries = entries.filter(address__contains=keyword)
    total = entries.count()
    rows, next_start = p.after_cursor(entries)
    items = [
        {
            "ToAddress": e.address,
            "LastUpdateTime": dm_time(e.created_at, account.time_zone),
            "UtcLastUpdateTime": epoch(e.created_at),
            "Reason": e.reason,
        }
        for e in rows
    ]
    return {"TotalCount": total, "NextStart": next_start, "data": {"mailDetail": items}}


@action("DeleteInvalidAddress")
def delete_invalid_address(caller: Caller, p: Params) -> dict:
    """Take an address off the suppression list, so mail to it is sent again."""
    address = p.text("ToAddress", required=True, max_length=254).strip().lower()
    entry = Suppression.objects.filter(account=caller.key.account, address=address).first()
    if entry is None:
        raise ApiError("InvalidAddress.NotFound", f"ToAddress: {address} is not in the invalid address list.")
    suppression_remove(entry=entry, actor=actor(caller))
    return {}
