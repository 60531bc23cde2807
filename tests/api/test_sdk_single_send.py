"""SingleSendMail through the official DirectMail SDKs against a live server: both signature schemes of the
current SDK, and the older core SDK with GET and POST. Errors come back as the SDKs' exceptions with
DirectMail's codes."""

import base64
import email
import email.policy
import hashlib
import json
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from alibabacloud_dm20151123 import models as dm
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from django.test import override_settings
from django.utils import timezone
from Tea.exceptions import TeaException

from accounts.access import access_key_set_active, ip_filter_add
from accounts.audit import SYSTEM
from sending.api import signatures
from sending.models import CapturedMessage, Envelope, Message, MessageState, QuotaCounter, SenderAddress
from sending.services.senders import sender_address_create
from sending.services.tags import tag_create
from tests.api.clients import tea_client

pytestmark = pytest.mark.django_db(transaction=True)


def single_send(**overrides) -> dm.SingleSendMailRequest:
    fields = {
        "account_name": "noreply@mail.example.com",
        "address_type": 1,
        "reply_to_address": False,
        "to_address": "a@example.org,b@example.org",
        "subject": "Hi there ~*",
        "html_body": "<p>Hello & welcome</p>",
        "from_alias": "Ops",
    }
    return dm.SingleSendMailRequest(**{**fields, **overrides})


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["acs3", "rpc-v2"])
def test_current_sdk_sends(api, algorithm):
    response = tea_client(api, algorithm=algorithm).single_send_mail(single_send())
    assert response.status_code == 200
    envelope = Envelope.objects.get(env_id=response.body.env_id)
    assert response.body.request_id
    assert envelope.source == "api"
    assert envelope.subject == "Hi there ~*"
    assert sorted(envelope.messages.values_list("rcpt", flat=True)) == ["a@example.org", "b@example.org"]
    assert set(envelope.messages.values_list("state", flat=True)) == {MessageState.DELIVERED}  # the Outbox
    api["key"].refresh_from_db()
    assert api["key"].last_used_ip == "127.0.0.1"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_core_sdk_sends(api, method):
    client = AcsClient(api["key"].key_id, api["secret"], "cn-hangzhou")
    request = CommonRequest(domain=api["endpoint"], version="2015-11-23", action_name="SingleSendMail")
    request.set_protocol_type("http")
    request.set_method(method)
    request.add_query_param("AccountName", "noreply@mail.example.com")
    request.add_query_param("AddressType", "1")
    request.add_query_param("ReplyToAddress", "true")
    request.add_query_param("ToAddress", "c@example.org")
    request.add_query_param("Subject", "core")
    request.add_query_param("TextBody", "plain text")
    body = json.loads(client.do_action_with_exception(request))
    assert Message.objects.get(envelope__env_id=body["EnvId"]).rcpt == "c@example.org"


def tea_error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


def test_wrong_secret_unknown_and_disabled_keys(api):
    assert (
        tea_error(lambda: tea_client(api, secret="nope").single_send_mail(single_send())).code
        == "SignatureDoesNotMatch"
    )
    error = tea_error(lambda: tea_client(api, key_id="LTAIunknownunknownunk").single_send_mail(single_send()))
    assert error.code == "InvalidAccessKeyId.NotFound"
    access_key_set_active(key=api["key"], active=False, actor=SYSTEM)
    assert (
        tea_error(lambda: tea_client(api).single_send_mail(single_send())).code
        == "InvalidAccessKeyId.Inactive"
    )
    assert not Message.objects.exists()


def test_refusals_name_the_problem(api):
    client = tea_client(api)
    assert (
        tea_error(lambda: client.single_send_mail(single_send(to_address="nope"))).code == "InvalidToAddress"
    )
    error = tea_error(lambda: client.single_send_mail(single_send(account_name="who@mail.example.com")))
    assert error.code == "InvalidMailAddress.NotFound"
    api["account"].daily_quota = 1
    api["account"].save()
    assert tea_error(lambda: client.single_send_mail(single_send())).code == "QuotaExhausted"
    ip_filter_add(account=api["account"], network="203.0.113.0/24", actor=SYSTEM)
    assert (
        tea_error(lambda: client.single_send_mail(single_send(to_address="x@example.org"))).code
        == "InvalidIp.Forbidden"
    )
    assert not Message.objects.exists()


def test_unsubscribe_options_are_checked(api):
    client = tea_client(api)
    error = tea_error(lambda: client.single_send_mail(single_send(un_subscribe_link_type="sometimes")))
    assert error.code == "InvalidParameter" and "UnSubscribeLinkType" in error.message
    client.single_send_mail(
        single_send(un_subscribe_link_type="default", un_subscribe_filter_level="mailfrom")
    )


def test_unknown_action(api):
    client = AcsClient(api["key"].key_id, api["secret"], "cn-hangzhou")
    request = CommonRequest(domain=api["endpoint"], version="2015-11-23", action_name="LaunchRockets")
    request.set_protocol_type("http")
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(request)
    assert caught.value.get_error_code() == "InvalidAction.NotFound"


def signed_v1_call(
    api, *, nonce: str, timestamp, headers=None, fmt="JSON", action="SingleSendMail", **params
):
    """A POST signed by hand (RPC v1), SingleSendMail unless told: the SDKs pick their own nonce and time."""
    query = {
        "Action": action,
        "Format": fmt,
        "Version": "2015-11-23",
        "AccessKeyId": api["key"].key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce,
        "Timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    mail = {
        "AccountName": "noreply@mail.example.com",
        "ToAddress": "r@example.org",
        "Subject": "s",
        "TextBody": "t",
    }
    body = {**(mail if action == "SingleSendMail" else {}), **params}
    query["Signature"] = signatures.rpc_signature("POST", {**query, **body}, api["secret"])
    url = f"http://{api['endpoint']}/?{urlencode(query)}"
    request = urllib.request.Request(url, data=urlencode(body).encode(), method="POST", headers=headers or {})
    parse = json.loads if fmt == "JSON" else bytes.decode
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, parse(response.read())
    except urllib.error.HTTPError as error:
        return error.code, parse(error.read())


def test_replayed_nonces_are_refused(api):
    now = timezone.now()
    assert signed_v1_call(api, nonce="n-1", timestamp=now)[0] == 200
    status, body = signed_v1_call(api, nonce="n-1", timestamp=now)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    assert Message.objects.count() == 1


def test_the_timestamp_window_is_fifteen_minutes(api):
    now = timezone.now()
    for n, (offset, expected) in enumerate(
        [
            (-(14 * 60 + 50), 200),
            (14 * 60 + 50, 200),
            (-(15 * 60 + 10), "InvalidTimeStamp.Expired"),
            (15 * 60 + 10, "InvalidTimeStamp.Expired"),
        ]
    ):
        status, body = signed_v1_call(api, nonce=f"t-{n}", timestamp=now + timedelta(seconds=offset))
        assert (status if status == 200 else body["Code"]) == expected


def test_an_idempotency_key_sends_once(api):
    first = signed_v1_call(api, nonce="i-1", timestamp=timezone.now(), IdempotencyKey="order-42")
    again = signed_v1_call(api, nonce="i-2", timestamp=timezone.now(), IdempotencyKey="order-42")
    assert first[0] == again[0] == 200
    assert first[1]["EnvId"] == again[1]["EnvId"]
    assert Message.objects.count() == 1
    status, body = signed_v1_call(
        api, nonce="i-3", timestamp=timezone.now(), IdempotencyKey="order-42", Subject="x"
    )
    assert (status, body["Code"]) == (409, "IdempotencyKey.Conflict")
    assert signed_v1_call(api, nonce="i-4", timestamp=timezone.now(), IdempotencyKey="order-43")[0] == 200
    assert Message.objects.count() == 2


def test_the_idempotency_key_header(api):
    headers = {"Idempotency-Key": "signup-7"}
    first = signed_v1_call(api, nonce="h-1", timestamp=timezone.now(), headers=headers)
    again = signed_v1_call(api, nonce="h-2", timestamp=timezone.now(), headers=headers)
    assert first[1]["EnvId"] == again[1]["EnvId"]
    assert Message.objects.count() == 1


def test_too_many_sending_calls_a_second_are_throttled(api):
    from alibabacloud_tea_openapi.exceptions import ThrottlingException

    with override_settings(API_SEND_RATE_PER_SECOND=1):
        client = tea_client(api)
        # Two calls in one second: at least the second of some pair is refused (seconds may tick between).
        errors = []
        for _ in range(3):
            try:
                client.single_send_mail(single_send(to_address="t@example.org"))
            except ThrottlingException as exc:
                errors.append(exc)
        assert errors
        assert errors[0].code == "Throttling.User"
        assert errors[0].retry_after == 1


def test_format_xml(api):
    status, document = signed_v1_call(api, nonce="x-1", timestamp=timezone.now(), fmt="XML")
    assert status == 200
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?><SingleSendMailResponse><RequestId>')
    env_id = document.split("<EnvId>")[1].split("</EnvId>")[0]
    assert Message.objects.get(envelope__env_id=env_id).rcpt == "r@example.org"
    status, document = signed_v1_call(api, nonce="x-1", timestamp=timezone.now(), fmt="XML")
    assert status == 400
    assert "<Error><RequestId>" in document and "<Code>SignatureNonceUsed</Code>" in document


def test_format_xml_lists_repeat_the_item_element(api):
    for name in ("a", "b"):
        tag_create(account=api["account"], name=name, actor=SYSTEM)
    status, document = signed_v1_call(
        api, nonce="x-2", timestamp=timezone.now(), fmt="XML", action="QueryTagByParam"
    )
    assert status == 200
    assert "<TotalCount>2</TotalCount>" in document
    assert document.count("<tag><TagId>") == 2 and "<TagName>a</TagName>" in document


def test_reply_to_address_chooses_the_senders_verified_reply_to(api):
    sender = SenderAddress.objects.get(address="noreply@mail.example.com")
    SenderAddress.objects.filter(pk=sender.pk).update(
        reply_to="help@example.com", reply_to_verified_at=timezone.now()
    )
    client = tea_client(api)
    with_reply_to = client.single_send_mail(single_send(reply_to_address=True, to_address="r@example.org"))
    without = client.single_send_mail(single_send(reply_to_address=False, to_address="r@example.org"))
    raw = {
        env: bytes(CapturedMessage.objects.get(message__envelope__env_id=env).raw)
        for env in (with_reply_to.body.env_id, without.body.env_id)
    }
    assert b"Reply-To: help@example.com" in raw[with_reply_to.body.env_id]
    assert b"Reply-To:" not in raw[without.body.env_id]


def batch_request(**overrides) -> dm.BatchSendMailRequest:
    fields = {
        "account_name": "news@mail.example.com",
        "address_type": 1,
        "receivers": [
            dm.BatchSendMailRequestReceivers(to=["ann@example.org"], template_data={"UserName": "Ann <&>"}),
            dm.BatchSendMailRequestReceivers(to=["bob@example.org"], template_data={"UserName": "Bob"}),
        ],
        "template_content": dm.BatchSendMailRequestTemplateContent(
            subject="Hello {UserName}",
            html_body="<p style='color:red'>Dear {UserName}, this went to {EAddr}.</p>",
            alias="News",
        ),
    }
    return dm.BatchSendMailRequest(**{**fields, **overrides})


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["acs3", "rpc-v2"])
def test_batch_send_mail_with_inline_receivers(api, algorithm):
    sender_address_create(
        account=api["account"], domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    response = tea_client(api, algorithm=algorithm).batch_send_mail(batch_request())
    envelope = Envelope.objects.get(env_id=response.body.env_id)
    assert envelope.templated and envelope.sender.address == "news@mail.example.com"
    mails = {
        m.message.rcpt: email.message_from_bytes(bytes(m.raw), policy=email.policy.default)
        for m in CapturedMessage.objects.filter(message__envelope=envelope).select_related("message")
    }
    assert str(mails["ann@example.org"]["Subject"]) == "Hello Ann <&>"
    html = mails["ann@example.org"].get_body(("html",)).get_content()
    assert "Dear Ann &lt;&amp;&gt;, this went to ann@example.org." in html
    assert "style='color:red'" in html  # braces and markup that are not variables stay as written
    assert str(mails["bob@example.org"]["Subject"]) == "Hello Bob"
    assert "Dear Bob" in mails["bob@example.org"].get_body(("plain",)).get_content()


def test_batch_send_mail_refusals(api):
    client = tea_client(api)
    error = tea_error(lambda: client.batch_send_mail(batch_request(account_name="noreply@mail.example.com")))
    assert error.code == "InvalidMailAddressSendType.Malformed"
    sender_address_create(
        account=api["account"], domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    error = tea_error(lambda: client.batch_send_mail(batch_request(receivers=[])))
    assert error.code in ("MissingParameter", "InvalidParameter") and "Receivers" in error.message
    too_many = [dm.BatchSendMailRequestReceivers(to=[f"u{i}@example.org"]) for i in range(101)]
    assert "Receivers" in tea_error(lambda: client.batch_send_mail(batch_request(receivers=too_many))).message
    bad = [dm.BatchSendMailRequestReceivers(to=["not-an-address"])]
    error = tea_error(lambda: client.batch_send_mail(batch_request(receivers=bad)))
    assert error.code == "InvalidToAddress" and "Receivers[1].To" in error.message
    error = tea_error(
        lambda: client.batch_send_mail(batch_request(template_content=None, template_name="welcome"))
    )
    assert error.code == "InvalidTemplate.NotFound"
    assert not Envelope.objects.exists()


def test_error_messages_follow_accept_language_while_codes_stay(api):
    client = AcsClient(api["key"].key_id, api["secret"], "cn-hangzhou")
    request = CommonRequest(domain=api["endpoint"], version="2015-11-23", action_name="SingleSendMail")
    request.set_protocol_type("http")
    request.add_header("Accept-Language", "zh-CN,zh;q=0.9")
    for name, value in (
        ("AccountName", "noreply@mail.example.com"), ("AddressType", "1"), ("ReplyToAddress", "false"),
        ("ToAddress", "not an address"), ("Subject", "s"), ("TextBody", "t"),
    ):  # fmt: skip
        request.add_query_param(name, value)
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(request)
    assert caught.value.get_error_code() == "InvalidToAddress"
    assert "不是有效的地址" in caught.value.get_error_msg()


def test_calls_are_counted_by_action_and_code_in_the_metrics(api):
    def counted(action: str, code: str) -> float:
        with urllib.request.urlopen(f"http://{api['endpoint']}/metrics", timeout=5) as response:
            page = response.read().decode()
        prefix = f'directmail_api_calls_total{{action="{action}",code="{code}"}} '
        return next(
            (float(line[len(prefix) :]) for line in page.splitlines() if line.startswith(prefix)), 0.0
        )

    before_ok, before_error = counted("SingleSendMail", "OK"), counted("SingleSendMail", "InvalidToAddress")
    client = tea_client(api)
    client.single_send_mail(single_send())
    tea_error(lambda: client.single_send_mail(single_send(to_address="not an address")))
    assert counted("SingleSendMail", "OK") == before_ok + 1
    assert counted("SingleSendMail", "InvalidToAddress") == before_error + 1


def test_acs3_signatures_must_cover_the_action_date_and_nonce(api):
    """A signature over `host` alone would let anyone replay the request with a new nonce and date, or
    retarget it to another action."""
    body = urlencode({"AccountName": "noreply@mail.example.com", "ToAddress": "r@example.org",
                      "Subject": "s", "TextBody": "t"}).encode()  # fmt: skip

    def call(signed: list[str], action: str, nonce: str) -> tuple[int, dict]:
        headers = {
            "host": api["endpoint"],
            "x-acs-action": action,
            "x-acs-version": "2015-11-23",
            "x-acs-date": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": nonce,
            "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
            "content-type": "application/x-www-form-urlencoded",
        }
        canonical = signatures.acs3_canonical_request("POST", {}, headers, signed, body)
        headers["Authorization"] = (
            f"ACS3-HMAC-SHA256 Credential={api['key'].key_id},SignedHeaders={';'.join(signed)},"
            f"Signature={signatures.acs3_signature(canonical, api['secret'])}"
        )
        request = urllib.request.Request(
            f"http://{api['endpoint']}/", data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    everything = ["host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]
    assert call(everything, "SingleSendMail", "n-all")[0] == 200
    for left_out in ("x-acs-action", "x-acs-date", "x-acs-signature-nonce"):
        status, answer = call([h for h in everything if h != left_out], "SingleSendMail", f"n-{left_out}")
        assert (status, answer["Code"]) == (400, "IncompleteSignature") and left_out in answer["Message"]
    status, answer = call(["host"], "DeleteIpfilterByEdmId", "n-host")
    assert (status, answer["Code"]) == (400, "IncompleteSignature")
    assert Message.objects.count() == 1


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x07", "\x0b", "\x0c", "\x1c"])
def test_control_characters_in_header_fields_are_refused(api, char):
    client = tea_client(api)
    for overrides, param in [
        ({"subject": f"Hi{char}there"}, "Subject"),
        ({"from_alias": f"Ops{char}"}, "FromAlias"),
        ({"reply_address_alias": f"R{char}"}, "ReplyAddressAlias"),
        ({"headers": json.dumps({"X-User-Ref": f"v{char}"})}, "Headers.X-User-Ref"),
        ({"subject": "=?utf-8?b?" + base64.b64encode(f"Hi{char}".encode()).decode() + "?="}, "Subject"),
    ]:
        error = tea_error(lambda overrides=overrides: client.single_send_mail(single_send(**overrides)))
        assert error.code == "InvalidParameter" and param in error.message
    assert not Message.objects.exists()


def test_header_names_and_sizes_are_checked_before_anything_is_charged(api):
    client = tea_client(api)
    cases = [
        {"X-User-" + "a" * 5000: "v"},
        {f"X-User-H{n}": "x" * 200_000 for n in range(10)},
        {"Message-ID": "not a message id"},
        {"Message-ID": "<a@example.com>", "message-id": "<b@example.com>"},
    ]
    for headers in cases:
        error = tea_error(
            lambda headers=headers: client.single_send_mail(single_send(headers=json.dumps(headers)))
        )
        assert error.code == "InvalidHeaders"
    assert not Message.objects.exists()
    assert not QuotaCounter.objects.filter(used__gt=0).exists()


def test_a_message_id_given_in_headers_replaces_ours(api):
    headers = json.dumps({"Message-ID": "<order-42@shop.example.com>", "X-User-Order": "42"})
    env_id = (
        tea_client(api).single_send_mail(single_send(to_address="a@example.org", headers=headers)).body.env_id
    )
    raw = bytes(CapturedMessage.objects.get(message__envelope__env_id=env_id).raw)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_all("Message-ID") == ["<order-42@shop.example.com>"]
    assert parsed["X-User-Order"] == "42"
