"""The account over the API: IP protection (AddIpfilter, GetIpfilterList, DeleteIpfilterByEdmId, the
switch GetIpProtection / UpdateIpProtection), DescAccountSummary (quotas, what is used today and this
month, counts and limits), and GetUser / UpdateUser (the account's event push settings)."""

from accounts import access
from accounts.limits import account_limits
from accounts.models import IpFilter
from sending.api.actions import action, actor
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, dm_time, epoch, refused
from sending.models import QuotaCounter
from sending.services.messages import quota_used


@action("AddIpfilter")
def add_ipfilter(caller: Caller, p: Params) -> dict:
    network = p.text("IpAddress", required=True, max_length=64)
    with refused("IpAddress", "InvalidIpAddress.Malformed"):
        entry = access.ip_filter_add(account=caller.key.account, network=network, actor=actor(caller))
    return {"IpFilterId": str(entry.api_id)}


@action("GetIpfilterList")
def get_ipfilter_list(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    entries, paging = p.page(account.ip_filters.order_by("created_at", "pk"))
    items = [
        {
            "Id": str(e.api_id),
            "IpAddress": e.network,
            "CreateTime": dm_time(e.created_at, account.time_zone),
            "UtcCreateTime": epoch(e.created_at),
        }
        for e in entries
    ]
    return {**paging, "data": {"ipfilters": items}}


@action("DeleteIpfilterByEdmId")
def delete_ipfilter_by_edm_id(caller: Caller, p: Params) -> dict:
    p.integer("FromType", default=1, minimum=0, maximum=10)  # DirectMail's deprecated caller channel
    value = p.text("Id", required=True).strip()
    entry = None
    if value.isdigit():
        entry = IpFilter.objects.filter(account=caller.key.account, api_id=int(value)).first()
    if entry is None:
        raise ApiError(
            "InvalidIpfilter.NotFound", f"The specified IP protection entry {value} does not exist.", 404
        )
    access.ip_filter_delete(entry=entry, actor=actor(caller))
    return {}


# Our limit names as DescAccountSummary's count fields.
_COUNTS = {
    "max_domains": "Domains",
    "max_sender_addresses": "MailAddresses",
    "max_tags": "Tags",
    "max_recipient_lists": "Receivers",
    "max_templates": "Templates",
}


@action("DescAccountSummary")
def desc_account_summary(caller: Caller, p: Params) -> dict:
    """DirectMail's fields, plus what they leave out: the usage and every limit ("Limits")."""
    account = caller.key.account
    limits = account_limits(account)
    used_today = quota_used(account, QuotaCounter.Period.DAY)
    used_month = quota_used(account, QuotaCounter.Period.MONTH)
    free_today = account.limit("free_daily_sends")
    body = {
        "DailyQuota": account.limit("daily_quota"),
        "MonthQuota": account.limit("monthly_quota"),
        "DailyUsage": used_today,
        "MonthUsage": used_month,
        "DailyRemainFreeQuota": max(0, free_today - used_today),
        "RemainFreeQuota": max(0, free_today - used_today),
        "UserStatus": 0,
        "Limits": {row.key: {"Used": row.used, "Limit": row.limit} for row in limits},
    }
    for row in limits:
        if row.key in _COUNTS:
            body[_COUNTS[row.key]] = row.used or 0
    return body


@action("GetIpProtection")
def get_ip_protection(caller: Caller, p: Params) -> dict:
    return {"IpProtection": "1" if caller.key.account.ip_protection else "0"}


@action("UpdateIpProtection")
def update_ip_protection(caller: Caller, p: Params) -> dict:
    """1: the list applies (to the API and SMTP); 0: it is kept but not applied. Only a caller the list
    lets in can turn it off (IP protection guards every action)."""
    value = p.text("IpProtection", required=True).strip()
    if value not in ("0", "1"):
        raise ApiError("InvalidParameter", "IpProtection must be 1 (on) or 0 (off).")
    access.ip_protection_set(account=caller.key.account, on=value == "1", actor=actor(caller))
    return {}


@action("GetUser")
def get_user(caller: Caller, p: Params) -> dict:
    """EnableEventbridge: this server pushes events by webhooks (Settings -> Webhooks), not through
    Alibaba Cloud EventBridge, so it is false."""
    return {"Data": {"EnableEventbridge": False}}


@action("UpdateUser")
def update_user(caller: Caller, p: Params) -> dict:
    user = p.json("User", required=True)
    unknown = sorted(set(user) - {"EnableEventbridge"})
    if unknown:
        raise ApiError("InvalidParameter", f"User: unknown fields {', '.join(unknown)}.")
    if user.get("EnableEventbridge") not in (None, False, "false", 0):
        raise ApiError(
            "InvalidParameter.EventBridge",
            "User.EnableEventbridge: this server has no EventBridge; push events with webhooks "
            "(Settings -> Webhooks) instead.",
        )
    return {}
