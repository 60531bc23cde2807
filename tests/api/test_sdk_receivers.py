"""Recipient lists through the official SDKs against a live server: the same limits and checks as the
console, DirectMail's short keys, NextStart paging, and another account's lists never found."""

import json

import pytest
from alibabacloud_dm20151123 import models as dm
from aliyunsdkcore.request import CommonRequest
from Tea.exceptions import TeaException

from accounts.audit import SYSTEM
from accounts.models import AuditEntry
from accounts.services import user_signup
from sending.models import Recipient, RecipientList
from sending.services import lists as list_service
from tests.api.clients import core_client, tea_client

pytestmark = pytest.mark.django_db(transaction=True)


def tea_error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


def test_lists_round_trip(api):
    client = tea_client(api)
    created = client.create_receiver(
        dm.CreateReceiverRequest(receivers_name="News", receivers_alias="news@example.com", desc="Monthly")
    ).body
    recipient_list = RecipientList.objects.get()
    assert created.receiver_id == str(recipient_list.api_id)
    listed = client.query_receiver_by_param(dm.QueryReceiverByParamRequest(key_word="new")).body
    [item] = listed.data.receiver
    assert (item.receiver_id, item.receivers_name, item.receivers_alias, item.desc, item.count) == (
        created.receiver_id,
        "News",
        "news@example.com",
        "Monthly",
        "0",
    )
    assert item.receivers_status == "1" and listed.total_count == 1 and listed.next_start == ""
    error = tea_error(
        lambda: client.create_receiver(
            dm.CreateReceiverRequest(receivers_name="News", receivers_alias="a@b.example")
        )
    )
    assert error.code == "InvalidReceiverName.Malformed" and "ReceiversName" in error.message
    error = tea_error(
        lambda: client.create_receiver(
            dm.CreateReceiverRequest(receivers_name="x" * 31, receivers_alias="a@b.example")
        )
    )
    assert error.code == "InvalidParameter" and "ReceiversName" in error.message
    error = tea_error(lambda: client.create_receiver(dm.CreateReceiverRequest(receivers_name="Other")))
    assert error.code == "MissingParameter" and "ReceiversAlias" in error.message
    client.delete_receiver(dm.DeleteReceiverRequest(receiver_id=created.receiver_id))
    assert not RecipientList.objects.exists()
    assert AuditEntry.objects.filter(action="recipient_list.delete").exists()
    error = tea_error(
        lambda: client.delete_receiver(dm.DeleteReceiverRequest(receiver_id=created.receiver_id))
    )
    assert error.code == "InvalidReceiver.NotFound" and error.statusCode == 404


def test_list_limit(api):
    api["account"].max_recipient_lists = 1
    api["account"].save()
    client = tea_client(api)
    client.create_receiver(dm.CreateReceiverRequest(receivers_name="One", receivers_alias="one@example.com"))
    error = tea_error(
        lambda: client.create_receiver(
            dm.CreateReceiverRequest(receivers_name="Two", receivers_alias="two@example.com")
        )
    )
    assert error.code == "LimitExceeded" and "1 of 1" in error.message
    assert RecipientList.objects.count() == 1


def test_details_saved_queried_and_deleted(api):
    api["account"].max_recipients_per_list = 3
    api["account"].save()
    client = tea_client(api)
    receiver_id = client.create_receiver(
        dm.CreateReceiverRequest(receivers_name="News", receivers_alias="news@example.com")
    ).body.receiver_id
    detail = [
        {
            "e": "li@example.org",
            "u": "李雷",
            "n": "Lei",
            "g": "male",
            "b": "1990-01-01",
            "m": "138",
            "City": "杭州",
        },
        {"e": "han@example.org", "u": "韩梅梅"},
        {"e": "HAN@example.org"},
        {"e": "not an address"},
        {"e": "x@example.org", "u": "x" * 65},
        {"e": "ok@example.org"},
        {"e": "full@example.org"},
    ]
    saved = client.save_receiver_detail(
        dm.SaveReceiverDetailRequest(receiver_id=receiver_id, detail=json.dumps(detail))
    ).body
    assert (saved.success_count, saved.error_count) == (3, 4)
    errors = {d.email: d.err_message for d in saved.data.detail}
    assert errors["HAN@example.org"] == "Already in the list."
    assert "not a valid address" in errors["not an address"]
    assert errors["x@example.org"] == "UserName is longer than 64 characters."
    assert errors["full@example.org"] == "The list is full: at most 3 addresses."
    li = Recipient.objects.get(email_key="li@example.org")
    assert (li.user_name, li.nick_name, li.gender, li.birthday, li.mobile, li.custom) == (
        "李雷", "Lei", "male", "1990-01-01", "138", {"City": "杭州"}
    )  # fmt: skip
    assert RecipientList.objects.get().recipient_count == 3

    first = client.query_receiver_detail(
        dm.QueryReceiverDetailRequest(receiver_id=receiver_id, page_size=2)
    ).body
    assert first.total_count == 3 and first.data_schema == "UserName,NickName,Gender,Birthday,Mobile"
    assert [d.email for d in first.data.detail] == ["ok@example.org", "han@example.org"]
    second = client.query_receiver_detail(
        dm.QueryReceiverDetailRequest(receiver_id=receiver_id, page_size=2, next_start=first.next_start)
    ).body
    [li_row] = second.data.detail
    assert li_row.email == "li@example.org" and second.next_start == ""
    assert json.loads(li_row.data) == {
        "u": "李雷",
        "n": "Lei",
        "g": "male",
        "b": "1990-01-01",
        "m": "138",
        "City": "杭州",
    }
    found = client.query_receiver_detail(
        dm.QueryReceiverDetailRequest(receiver_id=receiver_id, key_word="HAN@")
    ).body
    assert [d.email for d in found.data.detail] == ["han@example.org"]

    client.delete_receiver_detail(
        dm.DeleteReceiverDetailRequest(receiver_id=receiver_id, email="HAN@example.org")
    )
    assert RecipientList.objects.get().recipient_count == 2
    error = tea_error(
        lambda: client.delete_receiver_detail(
            dm.DeleteReceiverDetailRequest(receiver_id=receiver_id, email="han@example.org")
        )
    )
    assert error.code == "InvalidEmail.NotFound" and error.statusCode == 404

    too_many = json.dumps([{"e": f"u{n}@example.org"} for n in range(501)])
    error = tea_error(
        lambda: client.save_receiver_detail(
            dm.SaveReceiverDetailRequest(receiver_id=receiver_id, detail=too_many)
        )
    )
    assert error.code == "InvalidParameter" and "500" in error.message
    error = tea_error(
        lambda: client.save_receiver_detail(
            dm.SaveReceiverDetailRequest(receiver_id=receiver_id, detail='{"e": 1}')
        )
    )
    assert error.code == "InvalidParameter" and "Detail" in error.message
    assert RecipientList.objects.get().recipient_count == 2


def test_another_accounts_list_is_not_found(api):
    _user, other, _created = user_signup(
        email="other@example.com", password=None, account_name="Other", actor=SYSTEM
    )
    theirs = list_service.list_create(account=other, name="Theirs", actor=SYSTEM)
    list_service.recipients_save(recipient_list=theirs, details=[{"e": "a@example.org"}], actor=SYSTEM)
    client = tea_client(api)
    receiver_id = str(theirs.api_id)
    calls = [
        lambda: client.delete_receiver(dm.DeleteReceiverRequest(receiver_id=receiver_id)),
        lambda: client.query_receiver_detail(dm.QueryReceiverDetailRequest(receiver_id=receiver_id)),
        lambda: client.save_receiver_detail(
            dm.SaveReceiverDetailRequest(receiver_id=receiver_id, detail='[{"e": "b@example.org"}]')
        ),
        lambda: client.delete_receiver_detail(
            dm.DeleteReceiverDetailRequest(receiver_id=receiver_id, email="a@example.org")
        ),
    ]
    for call in calls:
        assert tea_error(call).code == "InvalidReceiver.NotFound"
    assert client.query_receiver_by_param(dm.QueryReceiverByParamRequest()).body.total_count == 0
    assert list(theirs.recipients.values_list("email", flat=True)) == ["a@example.org"]


def test_core_sdk_pages_lists_with_next_start(api):
    client = core_client(api)

    def call(action: str, **params) -> dict:
        request = CommonRequest(domain=api["endpoint"], version="2015-11-23", action_name=action)
        request.set_protocol_type("http")
        request.set_method("POST")
        for name, value in params.items():
            request.add_query_param(name, value)
        return json.loads(client.do_action_with_exception(request))

    for name in ("a", "b", "c"):
        call("CreateReceiver", ReceiversName=name, ReceiversAlias=f"{name}@example.com")
    first = call("QueryReceiverByParam", PageSize="2")
    assert [r["ReceiversName"] for r in first["data"]["receiver"]] == ["c", "b"] and first["TotalCount"] == 3
    second = call("QueryReceiverByParam", PageSize="2", NextStart=first["NextStart"])
    assert [r["ReceiversName"] for r in second["data"]["receiver"]] == ["a"] and second["NextStart"] == ""


def test_query_receiver_by_param_pages_by_page_number_and_custom_detail_adds_fields(api):

    client = tea_client(api)
    for n in range(3):
        client.create_receiver(
            dm.CreateReceiverRequest(receivers_name=f"list{n}", receivers_alias=f"l{n}@example.com")
        )
    first = client.query_receiver_by_param(dm.QueryReceiverByParamRequest(page_no=1, page_size=2)).body
    second = client.query_receiver_by_param(dm.QueryReceiverByParamRequest(page_no=2, page_size=2)).body
    names = [r.receivers_name for r in first.data.receiver + second.data.receiver]
    assert sorted(names) == ["list0", "list1", "list2"] and first.total_count == 3
    assert first.next_start == "2" and second.next_start == ""
    receiver_id = first.data.receiver[0].receiver_id
    answer = client.save_receiver_detail(
        dm.SaveReceiverDetailRequest(
            receiver_id=receiver_id,
            detail='[{"e": "ann@example.org", "u": "Ann"}]',
            custom_detail=json.dumps(
                [{"e": "ann@example.org", "City": "Hangzhou"}, {"e": "bob@example.org", "City": "Xian"}]
            ),
        )
    ).body
    assert answer.success_count == 2
    ann = Recipient.objects.get(email="ann@example.org")
    assert (ann.user_name, ann.custom) == ("Ann", {"City": "Hangzhou"})
