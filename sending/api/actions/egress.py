"""Dedicated IPs, IP pools, warm-up and configuration sets over the API, with the shapes of DirectMail's
SDK (alibabacloud-dm20151123): DedicatedIp*, GetDedicatedIpWarmUp*, ConfigSet*.

An account's dedicated IPs are the egress addresses staff dedicated to it (manage.py egress_ip); their Id
(and the SDK's BuyResourceIds, InstanceId) is the address's resource id. Pools, sets and bindings change
through sending.services.egress, as in the console, audited with the access key as the actor.
"""

from datetime import UTC, date, datetime

from django.db import transaction
from django.db.models import Count, Q, QuerySet

from sending import warmup
from sending.api.actions import action, actor
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, refused
from sending.esp import ESPS
from sending.models import ConfigSet, EgressAddress, IpPool, WarmupDay, WarmupType
from sending.services import egress as service


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _paged(p: Params, queryset: QuerySet, *, default_size: int = 10) -> tuple[list, dict]:
    """PageIndex (from 1) and PageSize (1-100), or All=true for everything; DirectMail's paging fields of
    these actions."""
    everything = p.boolean("All")
    index = p.integer("PageIndex", default=1, minimum=1, maximum=10**6)
    size = p.integer("PageSize", default=default_size, minimum=1, maximum=100)
    total = queryset.count()
    rows = list(queryset) if everything else list(queryset[(index - 1) * size : index * size])
    more = not everything and index * size < total
    return rows, {"CurrentPage": 1 if everything else index, "PageSize": len(rows) if everything else size,
                  "TotalCounts": total, "HasMore": more}  # fmt: skip


def _ids(p: Params, name: str, *, required: bool = True) -> list[str]:
    return [part.strip() for part in p.text(name, required=required).split(",") if part.strip()]


def _warmup_status(entry: EgressAddress) -> str:
    """DirectMail's WarmupStatus: warming up, or done (every provider past the curve, or no caps)."""
    if entry.warmup == WarmupType.CUSTOMER:
        return "NONE"
    return "FINISHED" if all(row["finished"] for row in warmup.progress(entry)) else "WARMING"


def _ip_row(entry: EgressAddress, sent_ids: set[int]) -> dict:
    return {
        "Id": entry.resource_id,
        "InstanceId": entry.resource_id,
        "Ip": entry.address,
        "IpPoolName": entry.pool.name if entry.pool else "",
        "Status": "ERROR" if entry.bind_error else "NORMAL",
        "WarmupType": entry.warmup,
        "WarmupStatus": _warmup_status(entry),
        "ZoneId": entry.host,
        "StartTime": _iso(entry.created_at),
        "ExpiredTime": "",  # your own addresses do not expire
        "IpExt": {
            "AutoRenewal": entry.auto_renewal,
            "HasSendMail": entry.pk in sent_ids,
            "LastWarmUpTypeChangedTime": _iso(entry.warmup_changed_at),
        },
    }


@action("DedicatedIpList")
def dedicated_ip_list(caller: Caller, p: Params) -> dict:
    entries = service.account_addresses(caller.key.account).order_by("address")
    if keyword := p.text("Keyword", max_length=64).strip():
        entries = entries.filter(address__icontains=keyword)
    rows, paging = _paged(p, entries)
    sent = set(
        WarmupDay.objects.filter(address__in=rows, sent__gt=0).values_list("address_id", flat=True).distinct()
    )
    return {**paging, "Ips": [_ip_row(e, sent) for e in rows]}


@action("DedicatedIpNonePoolList")
def dedicated_ip_none_pool_list(caller: Caller, p: Params) -> dict:
    entries = service.account_addresses(caller.key.account).filter(pool__isnull=True).order_by("address")
    return {"Ips": [{"Id": e.resource_id, "Ip": e.address, "ZoneId": e.host} for e in entries]}


@action("DedicatedIpPoolCreate")
def dedicated_ip_pool_create(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    name = p.text("Name", required=True, max_length=50)
    with refused("Name"):
        addresses = service.addresses_by_ids(account, _ids(p, "BuyResourceIds", required=False))
        pool = service.pool_create(account=account, name=name, addresses=addresses, actor=actor(caller))
    return {"Id": str(pool.api_id)}


@action("DedicatedIpPoolUpdate")
def dedicated_ip_pool_update(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    with refused():
        pool = service.pool_by_id(account, p.text("Id", required=True), "Id")
    if not p.boolean("UpdateResource", default=True):
        raise ApiError("InvalidParameter", "UpdateResource: set it to true to change the pool's addresses.")
    with refused():
        addresses = service.addresses_by_ids(account, _ids(p, "BuyResourceIds", required=False))
        service.pool_update(pool=pool, addresses=addresses, actor=actor(caller))
    return {"Id": str(pool.api_id)}


@action("DedicatedIpPoolDelete")
def dedicated_ip_pool_delete(caller: Caller, p: Params) -> dict:
    with refused("Id", code="InvalidIpPool.InUse"):
        pool = service.pool_by_id(caller.key.account, p.text("Id", required=True), "Id")
        service.pool_delete(pool=pool, actor=actor(caller))
    return {}


@action("DedicatedIpPoolList")
def dedicated_ip_pool_list(caller: Caller, p: Params) -> dict:
    pools = caller.key.account.ip_pools.annotate(ip_count=Count("addresses")).order_by("name")
    if keyword := p.text("Keyword", max_length=50).strip():
        pools = pools.filter(name__icontains=keyword)
    if pool_id := p.text("PoolId").strip():
        pools = pools.filter(api_id=int(pool_id)) if pool_id.isdigit() else pools.none()
    rows, paging = _paged(p, pools)
    items = [
        {
            "Id": str(pool.api_id),
            "Name": pool.name,
            "CreateTime": _iso(pool.created_at),
            "IpCount": pool.ip_count,
            "Ips": [
                {"Id": e.resource_id, "Ip": e.address, "ZoneId": e.host}
                for e in pool.addresses.order_by("address")
            ],
        }
        for pool in rows
    ]
    # DirectMail's model gives this action's CurrentPage and PageSize as strings.
    paging["CurrentPage"], paging["PageSize"] = str(paging["CurrentPage"]), str(paging["PageSize"])
    return {**paging, "IpPools": items}


@action("DedicatedIpChangeWarmupType")
def dedicated_ip_change_warmup_type(caller: Caller, p: Params) -> dict:
    with refused("WarmupType"):
        entry = service.address_by_id(caller.key.account, p.text("Id", required=True))
        service.warmup_change(
            entry=entry, warmup=p.text("WarmupType", required=True).strip(), actor=actor(caller)
        )
    return {}


@action("DedicatedIpAutoRenewal")
def dedicated_ip_auto_renewal(caller: Caller, p: Params) -> dict:
    """Nothing expires on your own machines: the choice is accepted, stored and shown (DedicatedIpList)."""
    account = caller.key.account
    value = p.text("AutoRenewal", required=True).strip().lower()
    if value not in ("true", "false"):
        raise ApiError("InvalidParameter", "AutoRenewal must be true or false.")
    with refused():
        entries = service.addresses_by_ids(account, _ids(p, "BuyResourceIds"))
        service.auto_renewal(account=account, entries=entries, enabled=value == "true", actor=actor(caller))
    return {}


def _address_param(caller: Caller, p: Params) -> EgressAddress:
    ip = p.text("DedicatedIp", required=True, max_length=64).strip()
    entry = service.account_addresses(caller.key.account).filter(Q(address=ip) | Q(resource_id=ip)).first()
    if entry is None:
        raise ApiError(
            "InvalidDedicatedIp.NotFound", f"DedicatedIp: {ip} is not a dedicated IP of this account.", 404
        )
    return entry


@action("GetDedicatedIpWarmUpInfo")
def get_dedicated_ip_warm_up_info(caller: Caller, p: Params) -> dict:
    entry = _address_param(caller, p)
    return {"Info": [{"Esp": row["esp"], "Finished": row["finished"]} for row in warmup.progress(entry)]}


def _day_mark(p: Params, name: str) -> date | None:
    """A DayMark: yyyyMMdd as a number (20261201)."""
    value = p.text(name).strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError as exc:
        raise ApiError("InvalidParameter", f"{name} is a day as yyyyMMdd (20261201), not {value!r}.") from exc


@action("GetDedicatedIpWarmUpDetail")
def get_dedicated_ip_warm_up_detail(caller: Caller, p: Params) -> dict:
    """Per provider and UTC day: what the address sent and what was delivered."""
    entry = _address_param(caller, p)
    rows = WarmupDay.objects.filter(address=entry)
    if esp := p.text("Esp", max_length=32).strip():
        if esp not in ESPS:
            raise ApiError("InvalidParameter", f"Esp is one of {', '.join(ESPS)}.")
        rows = rows.filter(esp=esp)
    start, end = _day_mark(p, "StartDayMark"), _day_mark(p, "EndDayMark")
    if start and end and end < start:
        raise ApiError("InvalidParameter", "EndDayMark is before StartDayMark.")
    if start:
        rows = rows.filter(day__gte=start)
    if end:
        rows = rows.filter(day__lte=end)
    return {
        "Detail": [
            {
                "Esp": r.esp,
                "DayMark": int(r.day.strftime("%Y%m%d")),
                "SendCounts": r.sent,
                "DeliverCounts": r.delivered,
            }
            for r in rows.order_by("day", "esp")
        ]
    }


def _validation(p: Params) -> dict | None:
    if not p.text("ValidationOption").strip():
        return None
    return p.json("ValidationOption")


def _pool_param(caller: Caller, p: Params):
    """IpPoolId: a pool of this account, or "" for none."""
    value = p.text("IpPoolId").strip()
    if not value:
        return None
    with refused():
        return service.pool_by_id(caller.key.account, value)


def _set_row(config: ConfigSet) -> dict:
    pool = config.ip_pool
    option = config.validation_option or {}
    return {
        "Id": str(config.api_id),
        "Name": config.name,
        "Description": config.description,
        "IpPool": {"IpPoolId": str(pool.api_id) if pool else "", "IpPoolName": pool.name if pool else ""},
        "IsPublicChannelBackoff": config.public_channel_backoff,
        "ValidationOption": {
            "Enabled": bool(option.get("Enabled", False)),
            "ForbiddenStatusList": list(option.get("ForbiddenStatusList", [])),
            "ForbiddenSubStatusList": list(option.get("ForbiddenSubStatusList", [])),
        },
    }


@action("ConfigSetCreate")
def config_set_create(caller: Caller, p: Params) -> dict:
    name = p.text("Name", required=True, max_length=50)
    pool = _pool_param(caller, p)
    with refused("Name"):
        config = service.config_set_create(
            account=caller.key.account,
            name=name,
            description=p.text("Description", max_length=50),
            pool=pool,
            backoff=p.boolean("IsPublicChannelBackoff"),
            validation=_validation(p),
            actor=actor(caller),
        )
    return {"Id": str(config.api_id)}


@action("ConfigSetUpdate")
def config_set_update(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    with refused():
        config = service.config_set_by_id(account, p.text("Id", required=True))
    changes: dict = {}
    if p.has("Name"):
        changes["name"] = p.text("Name", max_length=50)
    if p.has("Description"):
        changes["description"] = p.text("Description", max_length=50)
    if p.has("IpPoolId"):
        changes["pool"] = _pool_param(caller, p)
    if p.has("IsPublicChannelBackoff"):
        changes["backoff"] = p.boolean("IsPublicChannelBackoff")
    with refused("Name"):
        service.config_set_update(config=config, validation=_validation(p), actor=actor(caller), **changes)
    return {"Id": str(config.api_id)}


@action("ConfigSetDelete")
def config_set_delete(caller: Caller, p: Params) -> dict:
    """Every set named, or none: a set with senders bound is refused unless IsForce."""
    account = caller.key.account
    force = p.boolean("IsForce")
    with refused("Ids", code="InvalidConfigSet.InUse"):
        sets = [service.config_set_by_id(account, api_id, "Ids") for api_id in _ids(p, "Ids")]
        with transaction.atomic():
            for config in sets:
                service.config_set_delete(config=config, force=force, actor=actor(caller))
    return {}


@action("ConfigSetDetail")
def config_set_detail(caller: Caller, p: Params) -> dict:
    with refused():
        config = service.config_set_by_id(caller.key.account, p.text("Id", required=True))
    return {"Detail": _set_row(config)}


@action("ConfigSetList")
def config_set_list(caller: Caller, p: Params) -> dict:
    sets = caller.key.account.config_sets.select_related("ip_pool").order_by("name")
    if keyword := p.text("Keyword", max_length=50).strip():
        sets = sets.filter(name__icontains=keyword)
    rows, paging = _paged(p, sets)
    items = []
    for config in rows:
        item = _set_row(config)
        item["FromAddresses"] = list(
            config.senders.filter(deleted_at__isnull=True)
            .order_by("address")
            .values_list("address", flat=True)
        )
        items.append(item)
    return {**paging, "ConfigSets": items}


def _sender_param(caller: Caller, p: Params):
    address = p.text("FromAddress", required=True, max_length=254).strip().lower()
    sender = caller.key.account.sender_addresses.alive().filter(address=address).first()
    if sender is None:
        raise ApiError(
            "InvalidMailAddress.NotFound",
            f"FromAddress: {address} is not a sender address of this account.",
            404,
        )
    return sender


@action("ConfigSetRelationFromAddress")
def config_set_relation_from_address(caller: Caller, p: Params) -> dict:
    with refused():
        config = service.config_set_by_id(caller.key.account, p.text("Id", required=True))
    sender = _sender_param(caller, p)
    service.config_set_bind(config=config, sender=sender, actor=actor(caller))
    return {"Result": True}


@action("ConfigSetCancelRelationFromAddress")
def config_set_cancel_relation_from_address(caller: Caller, p: Params) -> dict:
    with refused():
        config = service.config_set_by_id(caller.key.account, p.text("Id", required=True))
    sender = _sender_param(caller, p)
    if sender.config_set_id != config.pk:
        raise ApiError(
            "InvalidParameter",
            f"FromAddress: {sender.address} is not bound to the configuration set {config.name}.",
        )
    service.config_set_bind(config=None, sender=sender, actor=actor(caller))
    return {"Result": True}


def pool_for_sending(caller: Caller, p: Params) -> IpPool | None:
    """The IpPoolId of SingleSendMail / BatchSendMail: a pool of the caller's account, or None."""
    return _pool_param(caller, p)
