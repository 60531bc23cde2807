"""Statistics over the API: SenderStatisticsByTagNameAndBatchID (requests, successes, failures, invalid
addresses per day), GetTrackList and GetTrackListByMailFromAndTagName (opens and clicks per day). Read from
the per-day counters (stats), in the account's time zone, with DirectMail's date rules (yyyy-MM-dd, at most
31 days for statistics, 7 for GetTrackList, 15 for GetTrackListByMailFromAndTagName), filtered by sender
address, tag, sending domain (Domain) and the recipients' provider (Esp). Registered with the API
(sending.api.actions) by StatsConfig.ready: `sending` knows nothing of `stats`."""

from datetime import date, datetime

from django.db.models import F

from sending.api.actions import action
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, refused
from sending.esp import ESPS
from sending.services import egress
from stats import dashboard


def _day(p: Params, name: str) -> date:
    value = p.text(name, required=True).strip()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ApiError("InvalidParameter", f"{name} must look like yyyy-MM-dd, not {value!r}.") from exc


def _period(p: Params, longest: int) -> tuple[date, date]:
    start, end = _day(p, "StartTime"), _day(p, "EndTime")
    if end < start:
        raise ApiError("InvalidParameter", "EndTime is before StartTime.")
    if (end - start).days > longest:
        raise ApiError("InvalidParameter", f"StartTime and EndTime are at most {longest} days apart.")
    return start, end


def _filters(caller: Caller, p: Params, *, tag_needs_sender: bool = False) -> dict:
    account = caller.key.account
    filters: dict = {}
    with refused():
        messages = egress.egress_filter(
            account,
            dedicated_ip=p.text("DedicatedIp", max_length=64),
            pool_id=p.text("DedicatedIpPoolId", max_length=64),
            config_set_id=p.text("ConfigSetId", max_length=64),
            message_field="message_id",
        )
    if messages is not None:
        filters["messages"] = messages
    if esp := p.text("Esp", max_length=32).strip().lower():
        if esp not in ESPS:
            raise ApiError("InvalidParameter", f"Esp must be one of {', '.join(ESPS)}.")
        filters["esp"] = esp
    if domain := p.text("Domain", max_length=253).strip().lower().rstrip("."):
        ids = list(account.sender_addresses.filter(domain__name=domain).values_list("pk", flat=True))
        if not ids and not account.domains.filter(name=domain).exists():
            raise ApiError(
                "InvalidDomain.NotFound", f"Domain: {domain} is not a domain of this account.", 404
            )
        filters["sender_ids"] = ids
    if address := p.text("AccountName", max_length=254).strip().lower():
        alive_first = F("deleted_at").asc(nulls_first=True)
        sender = account.sender_addresses.filter(address=address).order_by(alive_first).first()
        if sender is None:
            raise ApiError(
                "InvalidMailAddress.NotFound",
                f"AccountName: {address} is not a sender address of this account.",
                404,
            )
        filters["sender_id"] = sender.pk
    if tag := p.text("TagName", max_length=128).strip():
        if tag_needs_sender and "sender_id" not in filters:
            raise ApiError("MissingParameter", "AccountName is mandatory when TagName is given.")
        filters["tag_name"] = tag
    return filters


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "0%"


@action("SenderStatisticsByTagNameAndBatchID")
def sender_statistics(caller: Caller, p: Params) -> dict:
    start, end = _period(p, 31)
    report = dashboard.report(caller.key.account, start, end, **_filters(caller, p))
    stats = [
        {
            "CreateTime": d["day"].isoformat(),
            "requestCount": str(d["requests"]),
            "successCount": str(d["delivered"]),
            "faildCount": str(d["failed"]),
            "unavailableCount": str(d["invalid"]),
            "succeededPercent": _percent(d["delivered"], d["requests"]),
            "unavailablePercent": _percent(d["invalid"], d["requests"]),
        }
        for d in report.days
    ]
    return {"TotalCount": len(stats), "data": {"stat": stats}}


def _track(caller: Caller, p: Params, longest: int) -> tuple[list[dict], dict]:
    """Days of opens and clicks, paged by PageNumber and PageSize, or (DirectMail's older way, still sent by
    some clients) by Offset 1 with OffsetCreateTime: the days after the one a previous answer ended with."""
    start, end = _period(p, longest)
    report = dashboard.report(caller.key.account, start, end, **_filters(caller, p, tag_needs_sender=True))
    number = p.integer("PageNumber", default=1, minimum=1, maximum=10**6)
    size = p.integer("PageSize", default=10, minimum=1, maximum=100)
    p.text("Total")  # deprecated by DirectMail: the answer's Total says it
    offset = p.integer("Offset", default=0, minimum=0, maximum=1)
    after, older = p.text("OffsetCreateTime").strip(), p.text("OffsetCreateTimeDesc").strip()
    after = after or older  # DirectMail's two names of the same cursor
    if offset and after:
        try:
            last = datetime.strptime(after[:10], "%Y-%m-%d").date()
        except ValueError as exc:
            raise ApiError(
                "InvalidParameter", "OffsetCreateTime is a CreateTime of a previous answer."
            ) from exc
        days = [d for d in report.days if d["day"] > last][:size]
    else:
        days = report.days[(number - 1) * size : number * size]
    stats = [
        {
            "CreateTime": d["day"].isoformat(),
            "TotalNumber": str(d["delivered"]),
            "RcptOpenCount": str(d["opens"]),
            "RcptUniqueOpenCount": str(d["unique_opens"]),
            "RcptClickCount": str(d["clicks"]),
            "RcptUniqueClickCount": str(d["unique_clicks"]),
            "RcptOpenRate": _percent(d["opens"], d["delivered"]),
            "RcptUniqueOpenRate": _percent(d["unique_opens"], d["delivered"]),
            "RcptClickRate": _percent(d["clicks"], d["delivered"]),
            "RcptUniqueClickRate": _percent(d["unique_clicks"], d["delivered"]),
        }
        for d in days
    ]
    total = len(report.days)
    paging = {"PageNo": number, "PageSize": size, "Total": total, "TotalPages": -(-total // size)}
    if stats:
        paging |= {
            "OffsetCreateTime": stats[-1]["CreateTime"],
            "OffsetCreateTimeDesc": stats[0]["CreateTime"],
        }
    return stats, paging


@action("GetTrackList")
def get_track_list(caller: Caller, p: Params) -> dict:
    stats, paging = _track(caller, p, 7)
    return {**paging, "data": {"stat": stats}}


@action("GetTrackListByMailFromAndTagName")
def get_track_list_by_mail_from_and_tag_name(caller: Caller, p: Params) -> dict:
    stats, paging = _track(caller, p, 15)  # DirectMail allows 15 days here
    return {**paging, "TrackList": {"Stat": stats}}
