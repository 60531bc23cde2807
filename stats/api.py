"""Statistics over the API: SenderStatisticsByTagNameAndBatchID (requests, successes, failures, invalid
addresses per day), GetTrackList and GetTrackListByMailFromAndTagName (opens and clicks per day). Read from
the per-day counters (stats), in the account's time zone, with DirectMail's date rules (yyyy-MM-dd, at most
31 days for statistics and 7 for tracking). Registered with the API (sending.api.actions) by
StatsConfig.ready: `sending` knows nothing of `stats`."""

from datetime import date, datetime

from django.db.models import F

from sending.api.actions import action
from sending.api.auth import ApiError, Caller
from sending.api.params import Params
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
    filters = {}
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


def _track(caller: Caller, p: Params) -> tuple[list[dict], dict]:
    start, end = _period(p, 7)
    report = dashboard.report(caller.key.account, start, end, **_filters(caller, p, tag_needs_sender=True))
    number = p.integer("PageNumber", default=1, minimum=1, maximum=10**6)
    size = p.integer("PageSize", default=10, minimum=1, maximum=100)
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
    return stats, paging


@action("GetTrackList")
def get_track_list(caller: Caller, p: Params) -> dict:
    stats, paging = _track(caller, p)
    return {**paging, "data": {"stat": stats}}


@action("GetTrackListByMailFromAndTagName")
def get_track_list_by_mail_from_and_tag_name(caller: Caller, p: Params) -> dict:
    stats, paging = _track(caller, p)
    return {**paging, "TrackList": {"Stat": stats}}
