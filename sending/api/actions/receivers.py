"""Recipient lists over the API: CreateReceiver, DeleteReceiver, QueryReceiverByParam, SaveReceiverDetail,
QueryReceiverDetail, DeleteReceiverDetail. The same services, limits and checks as the console.

ReceiverId is the list's numeric api_id. Recipients are given and returned with DirectMail's short keys:
e (address), u (UserName), n (NickName), g (Gender), b (Birthday), m (Mobile); any other key is a custom
field, a template variable of that name. ReceiversStatus: "0" while an import runs into the list, else "1".
"""

import json

from sending.api.actions import action, actor
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, by_api_id, dm_time, epoch, refused
from sending.models import ImportStatus, RecipientImport, RecipientList
from sending.services import lists as service

KEY_OF = {field: key for key, field in service.DETAIL_KEYS.items()}
DATA_SCHEMA = "UserName,NickName,Gender,Birthday,Mobile"


def _list(caller: Caller, p: Params) -> RecipientList:
    lists = caller.key.account.recipient_lists.all()
    return by_api_id(lists, p, "ReceiverId", "InvalidReceiver.NotFound", "recipient list")


@action("CreateReceiver")
def create_receiver(caller: Caller, p: Params) -> dict:
    with refused("ReceiversName", "InvalidReceiverName.Malformed"):
        recipient_list = service.list_create(
            account=caller.key.account,
            name=p.text("ReceiversName", required=True, max_length=30),
            alias=p.text("ReceiversAlias", required=True, max_length=254),
            description=p.text("Desc", max_length=255),
            actor=actor(caller),
        )
    return {"ReceiverId": str(recipient_list.api_id)}


@action("DeleteReceiver")
def delete_receiver(caller: Caller, p: Params) -> dict:
    service.list_delete(recipient_list=_list(caller, p), actor=actor(caller))
    return {}


@action("QueryReceiverByParam")
def query_receiver_by_param(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    lists = account.recipient_lists.all()
    if keyword := p.text("KeyWord", max_length=30).strip():
        lists = lists.filter(name__icontains=keyword)
    importing = set(
        RecipientImport.objects.filter(
            account=account, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
        ).values_list("recipient_list_id", flat=True)
    )
    status = p.integer("Status", default=-1, minimum=-1, maximum=1)
    if status == 0:
        lists = lists.filter(pk__in=importing)
    elif status == 1:
        lists = lists.exclude(pk__in=importing)
    total = lists.count()
    if p.text("NextStart").strip() or not p.text("PageNo").strip():
        rows, next_start = p.after_cursor(lists, size_param="PageSize")
    else:
        # The SDK pages this action by PageNo (DirectMail deprecated it, its clients still send it).
        rows, _paging = p.page(lists.order_by("-pk"), default_size=100)
        number, size = _paging["PageNumber"], _paging["PageSize"]
        next_start = str(number + 1) if number * size < total else ""
    items = [
        {
            "ReceiverId": str(r.api_id),
            "ReceiversName": r.name,
            "ReceiversAlias": r.alias,
            "Desc": r.description,
            "Count": str(r.recipient_count),
            "ReceiversStatus": "0" if r.pk in importing else "1",
            "CreateTime": dm_time(r.created_at, account.time_zone),
            "UtcCreateTime": epoch(r.created_at),
        }
        for r in rows
    ]
    return {
        "NextStart": next_start,
        "PageSize": len(items),
        "TotalCount": total,
        "data": {"receiver": items},
    }


@action("SaveReceiverDetail")
def save_receiver_detail(caller: Caller, p: Params) -> dict:
    recipient_list = _list(caller, p)
    details = p.json("Detail", required=not p.has("CustomDetail"), kind=list)
    # CustomDetail: the same objects, for custom fields; merged into Detail's entry of the same address.
    by_address = {str(d.get("e", "")).strip().lower(): d for d in details if isinstance(d, dict)}
    for extra in p.json("CustomDetail", kind=list):
        if not isinstance(extra, dict):
            raise ApiError("InvalidParameter", "CustomDetail: a JSON array of objects.")
        known = by_address.get(str(extra.get("e", "")).strip().lower())
        if known is not None:
            known.update(extra)
        else:
            details.append(extra)
    if len(details) > service.MAX_SAVE_DETAILS:
        raise ApiError("InvalidParameter", f"Detail: at most {service.MAX_SAVE_DETAILS} recipients per call.")
    with refused("Detail"):
        added, errors = service.recipients_save(
            recipient_list=recipient_list, details=details, actor=actor(caller)
        )
    return {
        "SuccessCount": added,
        "ErrorCount": len(errors),
        "Data": {"Detail": [{"Email": email, "ErrMessage": message} for email, message in errors]},
    }


@action("QueryReceiverDetail")
def query_receiver_detail(caller: Caller, p: Params) -> dict:
    recipient_list = _list(caller, p)
    zone = caller.key.account.time_zone
    recipients = recipient_list.recipients.all()
    if keyword := p.text("KeyWord", max_length=254).strip().lower():
        recipients = recipients.filter(email_key__contains=keyword)
    total = recipients.count()
    rows, next_start = p.after_cursor(recipients, default_length=10, size_param="PageSize")
    items = []
    for r in rows:
        data = {KEY_OF[field]: getattr(r, field) for field in KEY_OF}
        data.update(r.custom)
        items.append(
            {
                "Email": r.email,
                "Data": json.dumps(data, ensure_ascii=False),
                "CreateTime": dm_time(r.created_at, zone),
                "UtcCreateTime": epoch(r.created_at),
            }
        )
    return {
        "NextStart": next_start,
        "TotalCount": total,
        "DataSchema": DATA_SCHEMA,
        "data": {"detail": items},
    }


@action("DeleteReceiverDetail")
def delete_receiver_detail(caller: Caller, p: Params) -> dict:
    recipient_list = _list(caller, p)
    email = p.text("Email", required=True, max_length=254).strip()
    deleted = service.recipients_delete(recipient_list=recipient_list, emails=[email], actor=actor(caller))
    if not deleted:
        raise ApiError("InvalidEmail.NotFound", f"Email: {email} is not in this recipient list.", 404)
    return {}
