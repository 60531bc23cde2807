"""The management actions through the official SDKs against a live server: each one round-trips, refuses
bad input with DirectMail's codes naming the parameter, writes the audit log, and never finds another
account's objects."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from alibabacloud_dm20151123 import models as dm
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.request import CommonRequest
from django.test import override_settings
from django.utils import timezone
from Tea.exceptions import TeaException

from accounts.access import ip_filter_add
from accounts.audit import SYSTEM
from accounts.models import AuditEntry
from accounts.services import user_signup
from sending.models import Domain, Message, MessageState, SenderAddress, Suppression, SuppressionReason, Tag
from sending.services.senders import sender_address_create
from sending.services.suppressions import suppression_add
from sending.services.tags import tag_create
from tests.api.clients import core_client, tea_client
from tests.dnsserver import DnsServer
from tests.sending.helpers import verified_domain

pytestmark = pytest.mark.django_db(transaction=True)


def tea_error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


@override_settings(SPF_INCLUDE="spf.directmail.test", BOUNCE_MX_HOST="mx.directmail.test")
def test_domains_round_trip(api):
    client = tea_client(api)
    created = client.create_domain(dm.CreateDomainRequest(domain_name="News.Example.COM")).body
    domain = Domain.objects.get(api_id=int(created.domain_id))
    assert domain.name == "news.example.com" and domain.account == api["account"]
    assert AuditEntry.objects.get(action="domain.create", target_id=domain.public_id).actor_label == (
        f"key {api['key'].key_id}"
    )

    listed = client.query_domain_by_param(dm.QueryDomainByParamRequest(key_word="news", status=1)).body
    assert listed.total_count == 1 and listed.page_number == 1 and listed.page_size == 10
    assert [(d.domain_name, d.domain_status) for d in listed.data.domain] == [("news.example.com", "1")]
    assert client.query_domain_by_param(dm.QueryDomainByParamRequest(status=0)).body.total_count == 1

    described = client.desc_domain(dm.DescDomainRequest(domain_id=int(created.domain_id))).body
    key = domain.active_dkim_key()
    assert described.tl_domain_name == "example.com"
    assert described.host_record == "_directmail.news"
    assert described.domain_type == f"directmail-verify={domain.ownership_token}"
    assert described.spf_record_v2 == "v=spf1 include:spf.directmail.test -all"
    assert described.dkim_rr == f"{key.selector}._domainkey.news"
    assert described.dkim_public_key == key.public_key and described.dkim_rsa_length == 2048
    assert described.dmarc_host_record == "_dmarc.news"
    assert (described.domain_status, described.spf_auth_status, described.dkim_auth_status) == ("1", "1", "1")

    with DnsServer() as dns_server:
        dns_server.publish_domain(domain)
        checked = client.check_domain(dm.CheckDomainRequest(domain_id=int(created.domain_id))).body
        assert checked.domain_status == 0
        described = client.desc_domain(dm.DescDomainRequest(domain_id=int(created.domain_id))).body
    assert (described.domain_status, described.spf_auth_status, described.dkim_auth_status) == ("0", "0", "0")
    assert described.dns_spf == "v=spf1 include:spf.directmail.test -all"

    client.delete_domain(dm.DeleteDomainRequest(domain_id=int(created.domain_id)))
    error = tea_error(lambda: client.desc_domain(dm.DescDomainRequest(domain_id=int(created.domain_id))))
    assert error.code == "InvalidDomain.NotFound" and error.statusCode == 404


def test_domain_refusals_name_the_parameter(api):
    client = tea_client(api)
    error = tea_error(lambda: client.create_domain(dm.CreateDomainRequest(domain_name="com")))
    assert error.code == "InvalidDomainName.Malformed" and "DomainName" in error.message
    error = tea_error(lambda: client.create_domain(dm.CreateDomainRequest()))
    assert error.code == "MissingParameter" and "DomainName" in error.message
    # The domain still has a sender address: deleting it is refused and changes nothing.
    error = tea_error(lambda: client.delete_domain(dm.DeleteDomainRequest(domain_id=api["domain"].api_id)))
    assert error.code == "InvalidDomain.InUse" and "DomainId" in error.message
    assert Domain.objects.alive().filter(pk=api["domain"].pk).exists()
    api["account"].max_domains = 1
    api["account"].save()
    error = tea_error(lambda: client.create_domain(dm.CreateDomainRequest(domain_name="two.example.com")))
    assert error.code == "LimitExceeded" and "1 of 1" in error.message


def test_sender_addresses_round_trip(api):
    client = tea_client(api)
    created = client.create_mail_address(
        dm.CreateMailAddressRequest(account_name="News@mail.example.com", sendtype="batch")
    ).body
    sender = SenderAddress.objects.get(api_id=int(created.mail_address_id))
    assert (sender.address, sender.send_type) == ("news@mail.example.com", "batch")

    listed = client.query_mail_address_by_param(dm.QueryMailAddressByParamRequest(sendtype="batch")).body
    assert listed.total_count == 1
    item = listed.data.mail_address[0]
    assert (item.account_name, item.sendtype, item.account_status) == ("news@mail.example.com", "batch", "0")
    everything = client.query_mail_address_by_param(dm.QueryMailAddressByParamRequest(page_size=1, page_no=2))
    assert everything.body.total_count == 2 and len(everything.body.data.mail_address) == 1
    _send(client, "a@example.org,b@example.org")
    noreply = client.query_mail_address_by_param(dm.QueryMailAddressByParamRequest(key_word="noreply")).body
    counts = noreply.data.mail_address[0]
    assert (counts.daily_req_count, counts.daily_count, counts.month_req_count, counts.month_count) == (
        "1",
        "2",
        "1",
        "2",
    )

    client.modify_mail_address(
        dm.ModifyMailAddressRequest(
            mail_address_id=int(created.mail_address_id),
            password="Sm7pPassword",
            reply_address="ops@example.org",
        )
    )
    sender.refresh_from_db()
    assert sender.has_smtp_password and sender.reply_to == "ops@example.org"
    assert not sender.reply_to_verified  # a verification link was mailed first
    error = tea_error(
        lambda: client.modify_mail_address(
            dm.ModifyMailAddressRequest(mail_address_id=int(created.mail_address_id), password="short")
        )
    )
    assert error.code == "InvalidPassword.Malformed" and "Password" in error.message

    client.delete_mail_address(dm.DeleteMailAddressRequest(mail_address_id=int(created.mail_address_id)))
    assert SenderAddress.objects.get(pk=sender.pk).deleted_at is not None
    error = tea_error(
        lambda: client.delete_mail_address(
            dm.DeleteMailAddressRequest(mail_address_id=int(created.mail_address_id))
        )
    )
    assert error.code == "InvalidMailAddress.NotFound"


def test_sender_address_refusals(api):
    client = tea_client(api)
    error = tea_error(
        lambda: client.create_mail_address(
            dm.CreateMailAddressRequest(account_name="a@unknown.example.com", sendtype="trigger")
        )
    )
    assert error.code == "InvalidMailAddressDomain.Malformed" and "AccountName" in error.message
    error = tea_error(
        lambda: client.create_mail_address(
            dm.CreateMailAddressRequest(account_name="a@mail.example.com", sendtype="bulk")
        )
    )
    assert error.code == "InvalidMailAddressSendType.Malformed"
    error = tea_error(
        lambda: client.create_mail_address(
            dm.CreateMailAddressRequest(account_name="noreply@mail.example.com", sendtype="trigger")
        )
    )
    assert error.code == "InvalidParameter" and "already exists" in error.message
    assert SenderAddress.objects.own().count() == 1


def test_tags_round_trip(api):
    client = tea_client(api)
    created = client.create_tag(dm.CreateTagRequest(tag_name="welcome", tag_description="First mail")).body
    listed = client.query_tag_by_param(dm.QueryTagByParamRequest(key_word="WEL")).body
    assert [(t.tag_id, t.tag_name, t.tag_description) for t in listed.data.tag] == [
        (created.tag_id, "welcome", "First mail")
    ]
    client.modify_tag(dm.ModifyTagRequest(tag_id=int(created.tag_id), tag_name="welcome2"))
    assert Tag.objects.get(api_id=int(created.tag_id)).description == "First mail"
    assert Tag.objects.get(api_id=int(created.tag_id)).name == "welcome2"
    error = tea_error(lambda: client.create_tag(dm.CreateTagRequest(tag_name="welcome2")))
    assert error.code == "InvalidTagName.Malformed" and "TagName" in error.message
    error = tea_error(lambda: client.create_tag(dm.CreateTagRequest(tag_name="no spaces")))
    assert error.code == "InvalidTagName.Malformed"
    client.delete_tag(dm.DeleteTagRequest(tag_id=int(created.tag_id)))
    assert not Tag.objects.exists()
    assert tea_error(lambda: client.delete_tag(dm.DeleteTagRequest(tag_id=1))).code == "InvalidTag.NotFound"


def test_ip_protection_round_trip(api):
    client = tea_client(api)
    # The caller's own network first: once the list is not empty, it guards every call of the key.
    client.add_ipfilter(dm.AddIpfilterRequest(ip_address="127.0.0.0/8"))
    added = client.add_ipfilter(dm.AddIpfilterRequest(ip_address="203.0.113.7")).body
    listed = client.get_ipfilter_list(dm.GetIpfilterListRequest()).body
    assert listed.total_count == 2
    assert sorted(f.ip_address for f in listed.data.ipfilters) == ["127.0.0.0/8", "203.0.113.7/32"]
    error = tea_error(lambda: client.add_ipfilter(dm.AddIpfilterRequest(ip_address="300.1.1.1")))
    assert error.code == "InvalidIpAddress.Malformed" and "IpAddress" in error.message
    client.delete_ipfilter_by_edm_id(dm.DeleteIpfilterByEdmIdRequest(id=added.ip_filter_id))
    assert [f.network for f in api["account"].ip_filters.all()] == ["127.0.0.0/8"]
    error = tea_error(lambda: client.delete_ipfilter_by_edm_id(dm.DeleteIpfilterByEdmIdRequest(id="x")))
    assert error.code == "InvalidIpfilter.NotFound"


def test_account_summary(api):
    client = tea_client(api)
    tag_create(account=api["account"], name="t1", actor=SYSTEM)
    client.single_send_mail(
        dm.SingleSendMailRequest(
            account_name="noreply@mail.example.com",
            address_type=1,
            reply_to_address=False,
            to_address="a@example.org,b@example.org",
            subject="Hi",
            text_body="x",
        )
    )
    body = client.desc_account_summary(dm.DescAccountSummaryRequest()).body
    assert (body.domains, body.mail_addresses, body.tags, body.templates) == (1, 1, 1, 0)
    assert body.daily_quota == api["account"].limit("daily_quota")
    assert body.month_quota == api["account"].limit("monthly_quota")
    assert body.daily_remain_free_quota == api["account"].limit("free_daily_sends") - 2
    raw = body.to_map()
    assert raw["DailyQuota"] == body.daily_quota
    assert raw["UserStatus"] == 0


def _send(client, to: str, subject: str = "Hi", **extra) -> str:
    request = dm.SingleSendMailRequest(
        account_name="noreply@mail.example.com",
        address_type=1,
        reply_to_address=False,
        to_address=to,
        subject=subject,
        text_body="x",
        **extra,
    )
    return client.single_send_mail(request).body.env_id


def test_sending_details_page_with_next_start(api):
    client = tea_client(api)
    tag_create(account=api["account"], name="receipts", actor=SYSTEM)
    for number in range(3):
        _send(client, f"user{number}@example.org", subject=f"Receipt {number}", tag_name="receipts")
    suppression_add(account=api["account"], address="gone@example.org", actor=SYSTEM)
    _send(client, "gone@example.org,user9@example.org")
    now = timezone.now().astimezone(ZoneInfo(api["account"].time_zone))
    window = {
        "start_time": (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "end_time": now.strftime("%Y-%m-%d %H:%M"),
    }

    delivered = client.sender_statistics_detail_by_param(
        dm.SenderStatisticsDetailByParamRequest(tag_name="receipts", status=0, length=2, **window)
    ).body
    first = [(d.to_address, d.status, d.error_classification) for d in delivered.data.mail_detail]
    assert first == [("user2@example.org", 0, "SendOk"), ("user1@example.org", 0, "SendOk")]
    assert delivered.next_start
    rest = client.sender_statistics_detail_by_param(
        dm.SenderStatisticsDetailByParamRequest(
            tag_name="receipts", status=0, length=2, next_start=delivered.next_start, **window
        )
    ).body
    assert [d.to_address for d in rest.data.mail_detail] == ["user0@example.org"] and not rest.next_start
    assert rest.data.mail_detail[0].subject == "Receipt 0"
    assert rest.data.mail_detail[0].account_name == "noreply@mail.example.com"

    invalid = client.sender_statistics_detail_by_param(
        dm.SenderStatisticsDetailByParamRequest(status=2, **window)
    ).body
    assert [(d.to_address, d.error_classification) for d in invalid.data.mail_detail] == [
        ("gone@example.org", "InvalidAddress")
    ]
    error = tea_error(
        lambda: client.sender_statistics_detail_by_param(
            dm.SenderStatisticsDetailByParamRequest(start_time="yesterday", end_time=window["end_time"])
        )
    )
    assert error.code == "InvalidParameter" and "StartTime" in error.message
    error = tea_error(
        lambda: client.sender_statistics_detail_by_param(
            dm.SenderStatisticsDetailByParamRequest(next_start="forged", **window)
        )
    )
    assert error.code == "InvalidParameter" and "NextStart" in error.message
    error = tea_error(
        lambda: client.sender_statistics_detail_by_param(
            dm.SenderStatisticsDetailByParamRequest(
                start_time="2026-01-01 00:00", end_time="2026-03-01 00:00"
            )
        )
    )
    assert "30 days" in error.message


def test_invalid_addresses_are_the_suppression_list(api):
    client = tea_client(api)
    for address in ("bounced@example.org", "complained@example.org", "other@example.net"):
        suppression_add(account=api["account"], address=address, actor=SYSTEM)
    listed = client.query_invalid_address(
        dm.QueryInvalidAddressRequest(key_word="example.org", length=1)
    ).body
    assert listed.total_count == 2
    assert [d.to_address for d in listed.data.mail_detail] == ["complained@example.org"]
    more = client.query_invalid_address(
        dm.QueryInvalidAddressRequest(key_word="example.org", length=1, next_start=listed.next_start)
    ).body
    assert [d.to_address for d in more.data.mail_detail] == ["bounced@example.org"]

    client.delete_invalid_address(dm.DeleteInvalidAddressRequest(to_address="Bounced@example.org"))
    assert not Suppression.objects.filter(address="bounced@example.org").exists()
    assert AuditEntry.objects.filter(action="suppression.remove").exists()
    error = tea_error(
        lambda: client.delete_invalid_address(
            dm.DeleteInvalidAddressRequest(to_address="bounced@example.org")
        )
    )
    assert error.code == "InvalidAddress.NotFound"
    # Mail to an address taken off the list is sent again.
    env_id = _send(client, "bounced@example.org")
    assert Suppression.objects.filter(reason=SuppressionReason.MANUAL).count() == 2
    assert api["account"].messages.get(envelope__env_id=env_id).state == MessageState.DELIVERED


def test_another_accounts_ids_are_not_found(api):
    _user, other, _created = user_signup(
        email="other@example.com", password=None, account_name="Other", actor=SYSTEM
    )
    domain = verified_domain(other, "mail.other.example")
    sender = sender_address_create(
        account=other, domain=domain, local_part="x", send_type="batch", actor=SYSTEM
    )
    tag = tag_create(account=other, name="theirs", actor=SYSTEM)
    entry = ip_filter_add(account=other, network="198.51.100.1", actor=SYSTEM)
    suppression_add(account=other, address="theirs@example.org", actor=SYSTEM)
    client = tea_client(api)
    calls = [
        ("InvalidDomain.NotFound", lambda: client.desc_domain(dm.DescDomainRequest(domain_id=domain.api_id))),
        (
            "InvalidDomain.NotFound",
            lambda: client.delete_domain(dm.DeleteDomainRequest(domain_id=domain.api_id)),
        ),
        (
            "InvalidDomain.NotFound",
            lambda: client.check_domain(dm.CheckDomainRequest(domain_id=domain.api_id)),
        ),
        (
            "InvalidMailAddress.NotFound",
            lambda: client.delete_mail_address(dm.DeleteMailAddressRequest(mail_address_id=sender.api_id)),
        ),
        (
            "InvalidMailAddress.NotFound",
            lambda: client.modify_mail_address(
                dm.ModifyMailAddressRequest(mail_address_id=sender.api_id, password="Sm7pPassword")
            ),
        ),
        ("InvalidTag.NotFound", lambda: client.delete_tag(dm.DeleteTagRequest(tag_id=tag.api_id))),
        (
            "InvalidTag.NotFound",
            lambda: client.modify_tag(dm.ModifyTagRequest(tag_id=tag.api_id, tag_name="x")),
        ),
        (
            "InvalidIpfilter.NotFound",
            lambda: client.delete_ipfilter_by_edm_id(dm.DeleteIpfilterByEdmIdRequest(id=str(entry.api_id))),
        ),
        (
            "InvalidAddress.NotFound",
            lambda: client.delete_invalid_address(
                dm.DeleteInvalidAddressRequest(to_address="theirs@example.org")
            ),
        ),
    ]
    for code, call in calls:
        assert tea_error(call).code == code
    assert client.query_domain_by_param(dm.QueryDomainByParamRequest()).body.total_count == 1
    assert client.query_tag_by_param(dm.QueryTagByParamRequest()).body.total_count == 0
    assert client.query_invalid_address(dm.QueryInvalidAddressRequest()).body.total_count == 0
    sender.refresh_from_db()
    assert sender.deleted_at is None and Tag.objects.filter(pk=tag.pk).exists()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_core_sdk_manages_too(api, method):
    client = core_client(api)

    def call(action: str, **params) -> dict:
        request = CommonRequest(domain=api["endpoint"], version="2015-11-23", action_name=action)
        request.set_protocol_type("http")
        request.set_method(method)
        for name, value in params.items():
            request.add_query_param(name, value)
        return json.loads(client.do_action_with_exception(request))

    created = call("CreateTag", TagName="core", TagDescription="from the core SDK")
    listed = call("QueryTagByParam", PageSize="50")
    assert listed["data"]["tag"] == [
        {"TagId": created["TagId"], "TagName": "core", "TagDescription": "from the core SDK"}
    ]
    with pytest.raises(ServerException) as caught:
        call("DeleteTag", TagId="not-a-number")
    assert caught.value.get_error_code() == "InvalidParameter"
    assert "TagId" in caught.value.get_error_msg()


def test_ip_protection_guards_every_action_of_the_key(api):
    """A key used from a refused address cannot lift the protection, read the list or send."""
    entry = ip_filter_add(account=api["account"], network="203.0.113.0/24", actor=SYSTEM)
    client = tea_client(api)
    calls = [
        lambda: client.add_ipfilter(dm.AddIpfilterRequest(ip_address="0.0.0.0/0")),
        lambda: client.delete_ipfilter_by_edm_id(dm.DeleteIpfilterByEdmIdRequest(id=str(entry.api_id))),
        lambda: client.get_ipfilter_list(dm.GetIpfilterListRequest()),
        lambda: client.query_domain_by_param(dm.QueryDomainByParamRequest()),
        lambda: client.single_send_mail(
            dm.SingleSendMailRequest(
                account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
                to_address="a@example.org", subject="Hi", text_body="x",
            )
        ),
    ]  # fmt: skip
    for call in calls:
        error = tea_error(call)
        assert error.code == "InvalidIp.Forbidden" and "127.0.0.1" in error.message
        assert error.statusCode == 403
    assert [f.network for f in api["account"].ip_filters.all()] == ["203.0.113.0/24"]
    assert not Message.objects.exists()
    # The core SDK's v2 signature is held to the same list.
    request = CommonRequest(domain=api["endpoint"], version="2015-11-23", action_name="AddIpfilter")
    request.set_protocol_type("http")
    request.add_query_param("IpAddress", "0.0.0.0/0")
    with pytest.raises(ServerException) as caught:
        core_client(api).do_action_with_exception(request)
    assert caught.value.get_error_code() == "InvalidIp.Forbidden"
    assert api["account"].ip_filters.count() == 1
