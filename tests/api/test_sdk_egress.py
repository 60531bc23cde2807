"""Every dedicated IP, IP pool, warm-up and configuration set action through the official SDK
(alibabacloud-dm20151123), against the live server: the shapes the SDK parses, and the refusals."""

import pytest
from alibabacloud_dm20151123 import models as dm
from Tea.exceptions import TeaException

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending import warmup
from sending.models import EgressAddress, Envelope, SenderAddress, WarmupDay, WarmupType
from sending.services.egress import pool_create
from tests.api.clients import tea_client

pytestmark = pytest.mark.django_db(transaction=True)


def tea_error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


@pytest.fixture
def ips(api):
    account = api["account"]
    first = EgressAddress.objects.create(address="127.0.0.2", helo="mta2.example.test", host="h",
                                         account=account, warmup=WarmupType.SYSTEM)  # fmt: skip
    second = EgressAddress.objects.create(address="127.0.0.3", helo="mta3.example.test", host="h",
                                          account=account)  # fmt: skip
    EgressAddress.objects.create(address="127.0.0.4", helo="shared.example.test", host="h")
    return first, second


def test_pools_from_the_sdk(api, ips):
    client = tea_client(api)
    first, second = ips
    listed = client.dedicated_ip_list(dm.DedicatedIpListRequest(page_index=1, page_size=10)).body
    assert listed.total_counts == 2 and not listed.has_more
    assert [(ip.ip, ip.warmup_type, ip.id) for ip in listed.ips] == [
        ("127.0.0.2", "sysCusStream", first.resource_id), ("127.0.0.3", "cusSelfManager", second.resource_id),
    ]  # fmt: skip
    assert listed.ips[0].warmup_status == "WARMING" and listed.ips[0].ip_ext.auto_renewal is False
    free = client.dedicated_ip_none_pool_list().body.ips
    assert {ip.ip for ip in free} == {"127.0.0.2", "127.0.0.3"}

    created = client.dedicated_ip_pool_create(
        dm.DedicatedIpPoolCreateRequest(
            name="campaigns", buy_resource_ids=f"{first.resource_id},{second.resource_id}"
        )
    ).body
    pools = client.dedicated_ip_pool_list(dm.DedicatedIpPoolListRequest(all=True)).body
    [pool] = pools.ip_pools
    assert (pool.id, pool.name, pool.ip_count) == (created.id, "campaigns", 2)
    assert {ip.ip for ip in pool.ips} == {"127.0.0.2", "127.0.0.3"}
    assert client.dedicated_ip_none_pool_list().body.ips == []
    client.dedicated_ip_pool_update(
        dm.DedicatedIpPoolUpdateRequest(
            id=created.id, buy_resource_ids=first.resource_id, update_resource=True
        )
    )
    assert [ip.ip for ip in client.dedicated_ip_none_pool_list().body.ips] == ["127.0.0.3"]

    # A set names the pool; a pool in use is not deleted.
    config = client.config_set_create(
        dm.ConfigSetCreateRequest(
            name="batch", description="campaigns", ip_pool_id=created.id, is_public_channel_backoff=True
        )
    ).body
    assert (
        tea_error(
            lambda: client.dedicated_ip_pool_delete(dm.DedicatedIpPoolDeleteRequest(id=created.id))
        ).code
        == "InvalidIpPool.InUse"
    )
    client.config_set_delete(dm.ConfigSetDeleteRequest(ids=config.id))
    client.dedicated_ip_pool_delete(dm.DedicatedIpPoolDeleteRequest(id=created.id))
    assert client.dedicated_ip_pool_list(dm.DedicatedIpPoolListRequest(all=True)).body.ip_pools == []


def test_configuration_sets_from_the_sdk(api, ips):
    client = tea_client(api)
    pool = pool_create(account=api["account"], name="p1", addresses=[ips[0]], actor=SYSTEM)
    created = client.config_set_create(
        dm.ConfigSetCreateRequest(
            name="receipts", description="trigger mail", ip_pool_id=str(pool.api_id),
            validation_option=dm.ConfigSetCreateRequestValidationOption(enabled=False),
        )
    ).body  # fmt: skip
    detail = client.config_set_detail(dm.ConfigSetDetailRequest(id=created.id)).body.detail
    assert (detail.name, detail.description, detail.ip_pool.ip_pool_name) == (
        "receipts",
        "trigger mail",
        "p1",
    )
    assert detail.is_public_channel_backoff is False and detail.validation_option.enabled is False
    assert (
        client.config_set_relation_from_address(
            dm.ConfigSetRelationFromAddressRequest(id=created.id, from_address="noreply@mail.example.com")
        ).body.result
        is True
    )
    [listed] = client.config_set_list(
        dm.ConfigSetListRequest(page_index="1", page_size="10")
    ).body.config_sets
    assert listed.from_addresses == ["noreply@mail.example.com"] and listed.ip_pool.ip_pool_id == str(
        pool.api_id
    )
    client.config_set_update(dm.ConfigSetUpdateRequest(id=created.id, is_public_channel_backoff=True))
    assert client.config_set_detail(
        dm.ConfigSetDetailRequest(id=created.id)
    ).body.detail.is_public_channel_backoff

    # Its sender's mail goes by it: the envelope names the set.
    client.single_send_mail(
        dm.SingleSendMailRequest(account_name="noreply@mail.example.com", address_type=1,
                                 reply_to_address=False, to_address="a@example.org", subject="Hi",
                                 text_body="Hello")
    )  # fmt: skip
    assert Envelope.objects.get().config_set.name == "receipts"

    # Named twice, a validation status that does not exist, a sender still bound: refused, nothing changed.
    assert tea_error(lambda: client.config_set_create(dm.ConfigSetCreateRequest(name="receipts"))).code == (
        "InvalidParameter"
    )
    enabled = dm.ConfigSetCreateRequestValidationOption(enabled=True, forbidden_status_list=["NOPE"])
    assert (
        tea_error(
            lambda: client.config_set_create(dm.ConfigSetCreateRequest(name="v", validation_option=enabled))
        ).code
        == "InvalidParameter"
    )
    assert (
        tea_error(lambda: client.config_set_delete(dm.ConfigSetDeleteRequest(ids=created.id))).code
        == "InvalidConfigSet.InUse"
    )
    client.config_set_cancel_relation_from_address(
        dm.ConfigSetCancelRelationFromAddressRequest(id=created.id, from_address="noreply@mail.example.com")
    )
    assert SenderAddress.objects.get(address="noreply@mail.example.com").config_set is None
    client.config_set_delete(dm.ConfigSetDeleteRequest(ids=created.id))
    assert (
        client.config_set_list(dm.ConfigSetListRequest(page_index="1", page_size="10")).body.total_counts == 0
    )


def test_warm_up_from_the_sdk(api, ips):
    client = tea_client(api)
    first, second = ips
    today = warmup.today()
    WarmupDay.objects.create(address=first, esp="gmail.com", day=today, step=0, cap=50, sent=40, delivered=38)
    info = client.get_dedicated_ip_warm_up_info(
        dm.GetDedicatedIpWarmUpInfoRequest(dedicated_ip="127.0.0.2")
    ).body
    assert {i.esp: i.finished for i in info.info}["gmail.com"] is False
    mark = int(today.strftime("%Y%m%d"))
    detail = client.get_dedicated_ip_warm_up_detail(
        dm.GetDedicatedIpWarmUpDetailRequest(
            dedicated_ip="127.0.0.2", esp="gmail.com", start_day_mark=mark, end_day_mark=mark
        )
    ).body.detail
    assert [(d.esp, d.day_mark, d.send_counts, d.deliver_counts) for d in detail] == [
        ("gmail.com", mark, 40, 38)
    ]
    client.dedicated_ip_change_warmup_type(
        dm.DedicatedIpChangeWarmupTypeRequest(id=first.resource_id, warmup_type="cusSelfManager")
    )
    client.dedicated_ip_auto_renewal(
        dm.DedicatedIpAutoRenewalRequest(auto_renewal="true", buy_resource_ids=second.resource_id)
    )
    listed = {ip.ip: ip for ip in client.dedicated_ip_list(dm.DedicatedIpListRequest()).body.ips}
    assert listed["127.0.0.2"].warmup_type == "cusSelfManager" and listed["127.0.0.2"].ip_ext.has_send_mail
    assert listed["127.0.0.3"].ip_ext.auto_renewal is True
    assert (
        tea_error(
            lambda: client.dedicated_ip_change_warmup_type(
                dm.DedicatedIpChangeWarmupTypeRequest(id=first.resource_id, warmup_type="fast")
            )
        ).code
        == "InvalidParameter"
    )


def test_another_accounts_addresses_and_pools_are_not_found(api, ips):
    client = tea_client(api)
    _user, other, _created = user_signup(email="o@example.com", password=None, account_name="O", actor=SYSTEM)
    theirs = EgressAddress.objects.create(address="127.0.0.9", helo="o.example.test", host="h", account=other)
    their_pool = pool_create(account=other, name="theirs", addresses=[theirs], actor=SYSTEM)
    assert (
        tea_error(
            lambda: client.dedicated_ip_pool_create(
                dm.DedicatedIpPoolCreateRequest(name="mine", buy_resource_ids=theirs.resource_id)
            )
        ).code
        == "InvalidDedicatedIp.NotFound"
    )
    assert (
        tea_error(
            lambda: client.single_send_mail(
                dm.SingleSendMailRequest(
                    account_name="noreply@mail.example.com",
                    address_type=1,
                    reply_to_address=False,
                    to_address="a@example.org",
                    subject="Hi",
                    text_body="Hello",
                    ip_pool_id=str(their_pool.api_id),
                )
            )
        ).code
        == "InvalidIpPoolId.NotFound"
    )
    assert (
        tea_error(
            lambda: client.get_dedicated_ip_warm_up_info(
                dm.GetDedicatedIpWarmUpInfoRequest(dedicated_ip="127.0.0.9")
            )
        ).code
        == "InvalidDedicatedIp.NotFound"
    )
    assert not Envelope.objects.exists()
