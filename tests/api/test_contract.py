"""The API's contract with the installed DirectMail SDK, read from the SDK's own client.

Every action of `alibabacloud-dm20151123` is answered: implemented, or refused with a documented error
(Sendify is not offered; the dedicated IP, configuration set and validation families come with their own
work). For every implemented action and every request field the SDK can send, a case below gives it, and
the handler either reads it (a success case: `Params.read` holds every parameter given) or refuses it with
the documented code (an error case). An SDK upgrade that brings an action or a field nobody decided about
fails `test_every_sdk_action_and_field_is_decided`; the behaviour of each field is tested where its feature
is (test_sdk_*.py), this file holds that none is dropped in silence.
"""

import re
from datetime import timedelta
from pathlib import Path

import alibabacloud_dm20151123
import pytest
from django.db import transaction
from django.utils import timezone

from accounts.access import access_key_create, ip_filter_add
from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.api.actions import ACTIONS, load, unoffered
from sending.api.auth import ApiError, Caller
from sending.api.params import Params
from sending.models import EgressAddress, Suppression, SuppressionReason
from sending.services.egress import config_set_bind, config_set_create, pool_create
from sending.services.lists import list_create, recipients_save
from sending.services.senders import reply_to_token, sender_address_create
from sending.services.tags import tag_create
from templates_app import services as template_services
from tests.api.test_sdk_templates import approve
from tests.dnsserver import DnsServer
from tests.sending.helpers import verified_domain

pytestmark = pytest.mark.django_db

VERSION = "2015-11-23"
# Alibaba Cloud's resource-owner fields (RAM delegation): one server has no resource owners; every action
# accepts and ignores them, as docs/api.md says.
RESOURCE_OWNER = {"OwnerId", "ResourceOwnerAccount", "ResourceOwnerId"}


def sdk_actions() -> dict[str, set[str]]:
    """{action: request fields} of DirectMail's version, from the installed SDK's client."""
    source = (Path(alibabacloud_dm20151123.__file__).parent / "client.py").read_text()
    actions: dict[str, set[str]] = {}
    for part in re.split(r"\n    (?:async )?def ", source):
        found = re.search(r"action = '(\w+)',\s*version = '([\d-]+)'", part)
        if found and found.group(2) == VERSION:
            fields = set(re.findall(r"(?:query|body)\['([\w.]+)'\]", part)) - RESOURCE_OWNER
            actions.setdefault(found.group(1), set()).update(fields)
    return actions


TODAY = "{today}"
MINUTE = "{today} 00:00"
NOW = "{now}"

# action -> [(parameters, None for success or the error code)]; "{name}" is filled from the world below.
CASES: dict[str, list[tuple[dict[str, str], str | None]]] = {
    "AddIpfilter": [({"IpAddress": "10.0.0.0/8"}, None)],
    "ApproveReplyMailAddress": [({"Ticket": "{ticket}"}, None)],
    "BatchSendMail": [
        (
            {
                "AccountName": "news@mail.example.com",
                "AddressType": "1",
                "ClickTrace": "1",
                "DomainAuth": "false",
                "Headers": '{"X-User-Batch": "1"}',
                "IpPoolId": "",
                "Receivers": '[{"To": ["x@example.org"], "TemplateData": {"Name": "X"}}]',
                "ReceiversName": "",
                "ReplyAddress": "help@example.org",
                "ReplyAddressAlias": "Help",
                "TagName": "t1",
                "TemplateContent": '{"Subject": "Hi {Name}", "HtmlBody": "<p>x</p>"}',
                "TemplateName": "",
                "UnSubscribeFilterLevel": "mailfrom_domain",
                "UnSubscribeLinkType": "default",
            },
            None,
        ),
        (
            {
                "AccountName": "news@mail.example.com",
                "AddressType": "1",
                "TemplateName": "welcome",
                "ReceiversName": "members",
                "ReplyAddress": "help@example.org",
                "Headers": "{}",
                "UnSubscribeFilterLevel": "edm_id",
                "UnSubscribeLinkType": "disabled",
            },
            None,
        ),
        (
            {
                "AccountName": "news@mail.example.com",
                "TemplateName": "welcome",
                "ReceiversName": "members",
                "IpPoolId": "pool-1",
            },
            "InvalidIpPoolId.NotFound",
        ),
    ],
    "ChangeDomainDkimRecord": [({"Domain": "mail.example.com", "DkimRsaLength": "1024"}, None)],
    "CheckDomain": [({"DomainId": "{spare_id}"}, None)],
    "CheckReplyToMailAddress": [({"MailAddressId": "{news_id}", "Lang": "en", "Region": "cn"}, None)],
    "CreateDomain": [({"DomainName": "new.example.com", "dkimSelector": "s2026"}, None)],
    "CreateMailAddress": [
        (
            {
                "AccountName": "hello@mail.example.com",
                "AddressType": "1",
                "ReplyAddress": "r@example.org",
                "Sendtype": "trigger",
            },
            None,
        ),
    ],
    "CreateReceiver": [({"ReceiversName": "vip", "ReceiversAlias": "vip@example.com", "Desc": "VIPs"}, None)],
    "CreateTag": [({"TagName": "t2", "TagDescription": "second"}, None)],
    "CreateTemplate": [
        (
            {
                "TemplateName": "new",
                "TemplateSubject": "S",
                "TemplateText": "<p>x</p>",
                "TemplateType": "0",
                "TemplateNickName": "Acme",
                "FromType": "1",
                "Remark": "",
                "SmsType": "0",
                "SmsContent": "",
            },
            None,
        ),
        (
            {"TemplateName": "new", "TemplateSubject": "S", "TemplateText": "<p>x</p>", "SmsContent": "hi"},
            "InvalidParameter",
        ),
    ],
    "CreateUserSuppression": [({"Address": "new@example.org"}, None)],
    "DeleteDomain": [({"DomainId": "{spare_id}"}, None)],
    "DeleteInvalidAddress": [({"ToAddress": "gone@example.org"}, None)],
    "DeleteIpfilterByEdmId": [({"Id": "{ipfilter_id}", "FromType": "1"}, None)],
    "DeleteMailAddress": [({"MailAddressId": "{old_id}"}, None)],
    "DeleteReceiver": [({"ReceiverId": "{list_id}"}, None)],
    "DeleteReceiverDetail": [({"ReceiverId": "{list_id}", "Email": "a@example.org"}, None)],
    "DeleteTag": [({"TagId": "{tag_id}"}, None)],
    "DeleteTemplate": [({"TemplateId": "{template_id}", "FromType": "1"}, None)],
    "DescAccountSummary": [({}, None)],
    "DescDomain": [({"DomainId": "{domain_id}", "RequireRealTimeDnsRecords": "false"}, None)],
    "DescTemplate": [({"TemplateId": "{template_id}", "FromType": "1"}, None)],
    "GetIpProtection": [({}, None)],
    "GetIpfilterList": [({}, None)],
    "GetSuppressionListLevel": [({}, None)],
    "GetTrackList": [
        (
            {
                "StartTime": TODAY,
                "EndTime": TODAY,
                "AccountName": "noreply@mail.example.com",
                "TagName": "t1",
                "Domain": "mail.example.com",
                "Esp": "gmail.com",
                "PageNumber": "1",
                "PageSize": "10",
                "Offset": "0",
                "OffsetCreateTime": "",
                "OffsetCreateTimeDesc": "",
                "Total": "",
                "ConfigSetId": "",
                "DedicatedIp": "",
                "DedicatedIpPoolId": "",
            },
            None,
        ),
        ({"StartTime": TODAY, "EndTime": TODAY, "ConfigSetId": "cs-1"}, "InvalidConfigSetId.NotFound"),
        ({"StartTime": TODAY, "EndTime": TODAY, "DedicatedIp": "203.0.113.9"}, "InvalidDedicatedIp.NotFound"),
    ],
    "GetTrackListByMailFromAndTagName": [
        (
            {
                "StartTime": TODAY,
                "EndTime": TODAY,
                "AccountName": "noreply@mail.example.com",
                "TagName": "t1",
                "Esp": "others",
                "PageNumber": "1",
                "PageSize": "10",
                "Offset": "1",
                "OffsetCreateTime": TODAY,
                "OffsetCreateTimeDesc": "",
                "Total": "",
                "ConfigSetId": "",
                "DedicatedIp": "",
                "DedicatedIpPoolId": "",
            },
            None,
        ),
    ],
    "GetUser": [({}, None)],
    "ListBlockSending": [
        (
            {
                "BlockType": "UNSUB",
                "BlockEmail": "left@example.org",
                "SenderEmail": "news@mail.example.com",
                "BeginTime": "0",
                "EndTime": NOW,
                "MaxResults": "10",
                "NextToken": "",
            },
            None,
        ),
    ],
    "ListUserSuppression": [
        (
            {
                "Address": "example.org",
                "StartCreateTime": "{week_ago}",
                "EndCreateTime": NOW,
                "StartBounceTime": "{week_ago}",
                "EndBounceTime": NOW,
                "PageNo": "1",
                "PageSize": "10",
            },
            None,
        ),
    ],
    "ModifyMailAddress": [
        ({"MailAddressId": "{sender_id}", "Password": "Secret-pass-1", "ReplyAddress": "r@example.org"}, None)
    ],
    "ModifyPWByDomain": [({"DomainName": "mail.example.com", "Password": "Ab12Cd34Ef"}, None)],
    "ModifyTag": [({"TagId": "{tag_id}", "TagName": "t9", "TagDescription": "renamed"}, None)],
    "ModifyTemplate": [
        (
            {
                "TemplateId": "{template_id}",
                "TemplateName": "welcome2",
                "TemplateSubject": "S2",
                "TemplateText": "<p>y</p>",
                "TemplateNickName": "Acme",
                "FromType": "1",
                "Remark": "",
                "SmsType": "0",
                "SmsContent": "",
            },
            None,
        ),
    ],
    "QueryDomainByParam": [({"KeyWord": "mail", "PageNo": "1", "PageSize": "10", "Status": "0"}, None)],
    "QueryInvalidAddress": [
        ({"StartTime": TODAY, "EndTime": TODAY, "KeyWord": "gone", "Length": "10", "NextStart": ""}, None)
    ],
    "QueryMailAddressByParam": [
        ({"KeyWord": "news", "PageNo": "1", "PageSize": "10", "Sendtype": "batch"}, None)
    ],
    "QueryReceiverByParam": [({"KeyWord": "mem", "PageNo": "1", "PageSize": "10", "Status": "1"}, None)],
    "QueryReceiverDetail": [
        ({"ReceiverId": "{list_id}", "KeyWord": "a@", "NextStart": "", "PageSize": "10"}, None)
    ],
    "QueryTagByParam": [({"KeyWord": "t", "PageNo": "1", "PageSize": "10"}, None)],
    "QueryTaskByParam": [({"KeyWord": "x", "PageNo": "1", "PageSize": "10", "Status": "1"}, None)],
    "QueryTemplateByParam": [
        ({"KeyWord": "wel", "PageNo": "1", "PageSize": "20", "Status": "2", "FromType": "1"}, None)
    ],
    "RemoveUserSuppression": [({"SuppressionIds": "{suppression_id}"}, None)],
    "SaveReceiverDetail": [
        (
            {
                "ReceiverId": "{list_id}",
                "Detail": '[{"e": "b@example.org", "u": "Bo"}]',
                "CustomDetail": '[{"e": "b@example.org", "City": "Xian"}]',
            },
            None,
        ),
    ],
    "SendTestByTemplate": [
        (
            {
                "TemplateId": "{template_id}",
                "AccountName": "noreply@mail.example.com",
                "Email": "t@example.org",
                "UserName": "U",
                "NickName": "N",
                "Gender": "G",
                "Birthday": "B",
                "Mobile": "M",
                "TemplateParams": '{"Code": "1"}',
            },
            None,
        ),
    ],
    "SenderStatisticsByTagNameAndBatchID": [
        (
            {
                "StartTime": TODAY,
                "EndTime": TODAY,
                "AccountName": "noreply@mail.example.com",
                "TagName": "t1",
                "Domain": "mail.example.com",
                "Esp": "yahoo.com",
                "DedicatedIp": "",
                "DedicatedIpPoolId": "",
            },
            None,
        ),
        (
            {"StartTime": TODAY, "EndTime": TODAY, "DedicatedIpPoolId": "p"},
            "InvalidDedicatedIpPoolId.NotFound",
        ),
    ],
    "SenderStatisticsDetailByParam": [
        (
            {
                "StartTime": MINUTE,
                "EndTime": MINUTE,
                "AccountName": "noreply@mail.example.com",
                "TagName": "t1",
                "ToAddress": "a@example.org",
                "Status": "0",
                "Length": "10",
                "NextStart": "",
                "ConfigSetId": "",
                "IpPoolId": "",
            },
            None,
        ),
        ({"StartTime": MINUTE, "EndTime": MINUTE, "IpPoolId": "p"}, "InvalidIpPoolId.NotFound"),
    ],
    "SetSuppressionListLevel": [({"SuppressionListLevel": "GLOBAL"}, None)],
    "SingleSendMail": [
        (
            {
                "AccountName": "noreply@mail.example.com",
                "AddressType": "1",
                "ReplyToAddress": "false",
                "ToAddress": "a@example.org",
                "Subject": "Hi",
                "HtmlBody": "<p>x</p>",
                "TextBody": "x",
                "FromAlias": "Acme",
                "TagName": "t1",
                "ClickTrace": "1",
                "ReplyAddress": "help@example.org",
                "ReplyAddressAlias": "Help",
                "Headers": '{"X-User-A": "1"}',
                "BccAddress": "b@example.org",
                "Attachments": "[]",
                "DomainAuth": "true",
                "IpPoolId": "",
                "UnSubscribeFilterLevel": "disabled",
                "UnSubscribeLinkType": "disabled",
            },
            None,
        ),
        (
            {
                "AccountName": "noreply@mail.example.com",
                "AddressType": "1",
                "ReplyToAddress": "true",
                "ToAddress": "a@example.org",
                "Template": '{"TemplateName": "welcome", "TemplateData": {}}',
            },
            None,
        ),
        (
            {
                "AccountName": "noreply@mail.example.com",
                "ToAddress": "a@example.org",
                "Subject": "Hi",
                "TextBody": "x",
                "IpPoolId": "pool-1",
            },
            "InvalidIpPoolId.NotFound",
        ),
        (
            {
                "AccountName": "noreply@mail.example.com",
                "ToAddress": "a@example.org",
                "Subject": "Hi",
                "TextBody": "x",
                "IpPoolId": "{pool_id}",
            },
            None,
        ),
        (
            {
                "AccountName": "noreply@mail.example.com",
                "ToAddress": "a@example.org",
                "Subject": "Hi",
                "TextBody": "x",
                "Attachments": '[{"AttachmentName": "a.pdf", "AttachmentUrl": "ftp://x/a"}]',
            },
            "InvalidAttachment",
        ),
    ],
    "UnblockSending": [
        (
            {"BlockEmail": "left@example.org", "BlockType": "UNSUB", "SenderEmail": "news@mail.example.com"},
            None,
        )
    ],
    "UpdateIpProtection": [({"IpProtection": "1"}, None)],
    "UpdateUser": [({"User": '{"EnableEventbridge": false}'}, None)],
}

CASES |= {
    # Role and syntax answers need no DNS; the SDK tests (test_sdk_validation.py) cover the rest.
    "ValidateEmail": [
        (
            {
                "Email": "info@example.org",
                "ProbeType": "BASIC_ONLY",
                "Timeout": "20",
                "CheckGraylist": "false",
            },
            None,
        ),
        ({"Email": "a@example.org", "ProbeType": "MAYBE"}, "InvalidProbeType.Malformed"),
    ],
    "CheckDisposable": [({"Email": "not-an-address"}, None)],
    "GetValidationQuota": [({}, None)],
    "SendValidateFile": [
        (
            {
                "FileUrl": "http://10.0.0.1/a.csv",
                "FileName": "a.csv",
                "AddressColumn": "1",
                "HasHeaderRow": "true",
                "RemoveDuplicate": "true",
            },
            "InvalidFileUrl.Malformed",
        ),  # an internal address: refused at once
    ],
    "GetValidateFileStatus": [({"FileId": "0000-0000-0000-0000"}, "InvalidFileId.NotFound")],
    "GetValidateFile": [({"FileId": "0000-0000-0000-0000"}, "InvalidFileId.NotFound")],
    "DeleteValidateFile": [({"FileId": "0000-0000-0000-0000"}, "InvalidFileId.NotFound")],
    "ListValidateFile": [
        (
            {
                "StartTime": "2026-01-01T00:00:00Z",
                "EndTime": "2027-01-01T00:00:00Z",
                "FileKeyword": "a",
                "Page": "1",
                "PageSize": "10",
            },
            None,
        ),
    ],
    "DedicatedIpList": [({"Keyword": "127.0.0", "PageIndex": "1", "PageSize": "10"}, None)],
    "DedicatedIpNonePoolList": [({}, None)],
    "DedicatedIpPoolCreate": [
        ({"Name": "new_pool", "BuyResourceIds": "{spare_ip_id}"}, None),
        ({"Name": "pool1", "BuyResourceIds": ""}, "InvalidParameter"),  # named twice
        ({"Name": "p2", "BuyResourceIds": "dip-someone-elses"}, "InvalidDedicatedIp.NotFound"),
    ],
    "DedicatedIpPoolUpdate": [
        ({"Id": "{pool_id}", "BuyResourceIds": "{ip_id},{spare_ip_id}", "UpdateResource": "true"}, None),
        ({"Id": "1", "BuyResourceIds": "", "UpdateResource": "true"}, "InvalidIpPoolId.NotFound"),
    ],
    "DedicatedIpPoolDelete": [
        ({"Id": "{free_pool_id}"}, None),
        ({"Id": "{pool_id}"}, "InvalidIpPool.InUse"),  # the configuration set uses it
    ],
    "DedicatedIpPoolList": [
        ({"All": "false", "Keyword": "pool", "PageIndex": "1", "PageSize": "10", "PoolId": "{pool_id}"}, None)
    ],
    "DedicatedIpChangeWarmupType": [
        ({"Id": "{ip_id}", "WarmupType": "cusSelfManager"}, None),
        ({"Id": "{ip_id}", "WarmupType": "fast"}, "InvalidParameter"),
    ],
    "DedicatedIpAutoRenewal": [
        ({"AutoRenewal": "true", "BuyResourceIds": "{ip_id}"}, None),
        ({"AutoRenewal": "maybe", "BuyResourceIds": "{ip_id}"}, "InvalidParameter"),
    ],
    "GetDedicatedIpWarmUpInfo": [
        ({"DedicatedIp": "{ip}"}, None),
        ({"DedicatedIp": "203.0.113.9"}, "InvalidDedicatedIp.NotFound"),
    ],
    "GetDedicatedIpWarmUpDetail": [
        (
            {"DedicatedIp": "{ip}", "Esp": "gmail.com", "StartDayMark": "20260101", "EndDayMark": "20261231"},
            None,
        ),
        ({"DedicatedIp": "{ip}", "StartDayMark": "2026-01-01"}, "InvalidParameter"),
    ],
    "ConfigSetCreate": [
        (
            {
                "Name": "transactional",
                "Description": "receipts",
                "IpPoolId": "{pool_id}",
                "IsPublicChannelBackoff": "true",
                "ValidationOption": '{"Enabled": false}',
            },
            None,
        ),
        ({"Name": "set1"}, "InvalidParameter"),  # named twice
        ({"Name": "x", "IpPoolId": "999"}, "InvalidIpPoolId.NotFound"),
    ],
    "ConfigSetUpdate": [
        (
            {
                "Id": "{set_id}",
                "Name": "set1b",
                "Description": "d",
                "IpPoolId": "",
                "IsPublicChannelBackoff": "false",
                "ValidationOption": '{"Enabled": false}',
            },
            None,
        ),
    ],
    "ConfigSetDelete": [
        ({"Ids": "{set_id}", "IsForce": "true"}, None),
        ({"Ids": "{set_id}"}, "InvalidConfigSet.InUse"),  # a sender is bound
    ],
    "ConfigSetDetail": [({"Id": "{set_id}"}, None), ({"Id": "1"}, "InvalidConfigSet.NotFound")],
    "ConfigSetList": [({"All": "false", "Keyword": "set", "PageIndex": "1", "PageSize": "10"}, None)],
    "ConfigSetRelationFromAddress": [({"Id": "{set_id}", "FromAddress": "noreply@mail.example.com"}, None)],
    "ConfigSetCancelRelationFromAddress": [
        ({"Id": "{set_id}", "FromAddress": "news@mail.example.com"}, None),
        ({"Id": "{set_id}", "FromAddress": "noreply@mail.example.com"}, "InvalidParameter"),  # not bound
    ],
}

REFUSED = {name: "InvalidAction.NotOffered" for name in unoffered.SENDIFY}


def test_every_sdk_action_and_field_is_decided():
    load()
    sdk = sdk_actions()
    assert len(sdk) >= 81
    undecided = sorted(set(sdk) - set(CASES) - set(REFUSED))
    assert not undecided, f"SDK actions nobody decided about: {undecided}"
    assert not set(CASES) & set(REFUSED)
    assert not sorted((set(CASES) | set(REFUSED)) - set(sdk)), "decided actions the SDK does not have"
    for name, cases in CASES.items():
        given = set().union(*(set(params) for params, _code in cases))
        assert sdk[name] <= given, f"{name}: SDK fields without a case: {sorted(sdk[name] - given)}"
        assert given <= sdk[name], (
            f"{name}: cases name fields the SDK does not send: {sorted(given - sdk[name])}"
        )
    assert set(ACTIONS) >= set(sdk), "every SDK action is registered (none answers InvalidAction.NotFound)"


@pytest.fixture
def world():
    """An account with one of everything the actions name, and the values the cases refer to."""
    _user, account, _created = user_signup(
        email="c@example.com", password=None, account_name="C", actor=SYSTEM
    )
    domain = verified_domain(account, "mail.example.com")
    spare = verified_domain(account, "spare.example.com")
    sender = sender_address_create(account=account, domain=domain, local_part="noreply", send_type="trigger",
                                   actor=SYSTEM)  # fmt: skip
    news = sender_address_create(account=account, domain=domain, local_part="news", send_type="batch",
                                 reply_to="r@example.org", actor=SYSTEM)  # fmt: skip
    old = sender_address_create(account=account, domain=domain, local_part="old", send_type="trigger",
                                actor=SYSTEM)  # fmt: skip
    tag = tag_create(account=account, name="t1", actor=SYSTEM)
    template = template_services.template_create(
        account=account, name="welcome", subject="Welcome", html_body="<p>Hi</p>", actor=SYSTEM
    )
    template_services.version_submit(version=template.latest_version(), actor=SYSTEM)
    approve(template)
    members = list_create(account=account, name="members", actor=SYSTEM)
    recipients_save(recipient_list=members, details=[{"e": "a@example.org"}], actor=SYSTEM)
    entry = ip_filter_add(account=account, network="127.0.0.1", actor=SYSTEM)
    gone = Suppression.objects.create(account=account, address="gone@example.org", reason="manual")
    Suppression.objects.create(
        account=account, address="left@example.org", scope="news@mail.example.com",
        reason=SuppressionReason.UNSUBSCRIBE,
    )  # fmt: skip
    key, _secret = access_key_create(account=account, actor=SYSTEM)
    ip = EgressAddress.objects.create(
        address="127.0.0.2", helo="mta2.example.test", host="h", account=account
    )
    spare_ip = EgressAddress.objects.create(address="127.0.0.3", helo="mta3.example.test", host="h",
                                            account=account)  # fmt: skip
    pool = pool_create(account=account, name="pool1", addresses=[ip], actor=SYSTEM)
    free_pool = pool_create(account=account, name="pool_free", addresses=[], actor=SYSTEM)
    config = config_set_create(account=account, name="set1", pool=pool, actor=SYSTEM)
    config_set_bind(config=config, sender=news, actor=SYSTEM)
    now = timezone.now()
    values = {
        "today": account.today().isoformat(), "now": str(int(now.timestamp()) + 60),
        "week_ago": str(int((now - timedelta(days=6)).timestamp())), "ticket": reply_to_token(news),
        "domain_id": domain.api_id, "spare_id": spare.api_id, "sender_id": sender.api_id,
        "news_id": news.api_id, "old_id": old.api_id, "tag_id": tag.api_id, "template_id": template.api_id,
        "list_id": members.api_id, "ipfilter_id": entry.api_id, "suppression_id": gone.pk,
        "ip": ip.address, "ip_id": ip.resource_id, "spare_ip_id": spare_ip.resource_id,
        "pool_id": pool.api_id, "free_pool_id": free_pool.api_id, "set_id": config.api_id,
    }  # fmt: skip
    with DnsServer():
        yield key, values


def fill(value: str, values: dict) -> str:
    """ "{name}" from the world's values; other braces (JSON, template variables) stay as written."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), value)


def call(key, name: str, raw: dict[str, str]) -> Params:
    """Run the action's handler as the endpoint does (a sending action's store step in a transaction)."""
    params = Params(raw)
    answer = ACTIONS[name].handler(Caller(key, name, raw, "127.0.0.1", "n"), params)
    if callable(answer):
        with transaction.atomic():
            answer()
    return params


def test_every_field_is_honoured_or_refused(world, subtests):
    """Each case in a savepoint rolled back after it: every case starts from the same world."""
    key, values = world
    for name in sorted(CASES):
        for number, (template, code) in enumerate(CASES[name], start=1):
            raw = {field: fill(value, values) for field, value in template.items()}
            with subtests.test(action=name, case=number), transaction.atomic():
                try:
                    params = call(key, name, raw)
                except ApiError as error:
                    assert error.code == code, f"{name} case {number}: {error.code} {error.message}"
                else:
                    assert code is None, f"{name} case {number}: expected {code}, it succeeded"
                    unread = sorted(set(raw) - params.read)
                    assert not unread, f"{name} case {number} did not read {unread}"
                finally:
                    transaction.set_rollback(True)


def test_actions_not_offered_answer_their_error(world, subtests):
    key, _values = world
    for name, code in sorted(REFUSED.items()):
        with subtests.test(action=name), pytest.raises(ApiError) as caught:
            call(key, name, {})
        assert caught.value.code == code
