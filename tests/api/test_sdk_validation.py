"""Address validation through the official SDK: ValidateEmail (BASIC_ONLY) answers DirectMail's Status and
SubStatus from syntax, typos, the suppression list, disposable and role addresses and the domain's DNS
(the test DNS server); CheckDisposable; the quota it costs, GetValidationQuota, and what is refused."""

import json
from datetime import timedelta

import pytest
from alibabacloud_dm20151123 import models as dm
from django.test import override_settings
from django.utils import timezone
from Tea.exceptions import TeaException

from accounts.crypto import encrypt
from accounts.limits import account_limits
from sending import validation, validation_graylist
from sending.models import (
    CapturedMessage,
    GraylistCheck,
    Message,
    SenderAddress,
    Suppression,
    SuppressionReason,
    ValidationJob,
)
from stats import webhooks as stats_webhooks
from stats.models import WebhookEndpoint
from tests.api.clients import tea_client
from tests.dnsserver import DnsServer
from tests.fileserver import FileServer
from tests.sending.helpers import send
from tests.smtpsink import SmtpSink, free_port
from tests.stats.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def refused(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


@pytest.fixture
def dns():
    with DnsServer() as server:
        server.add("dest.example", "MX", "10 mx.dest.example")
        server.add("bare.example", "A", "192.0.2.10")  # no MX: its own address takes mail
        server.add("nomail.example", "MX", "0 .")  # a null MX (RFC 7505)
        server.add("textonly.example", "TXT", "v=spf1 -all")  # exists, no mail server
        server.servfail("flaky.example")
        yield server


def test_validate_email_answers_directmail_statuses(api, dns):
    Suppression.objects.create(
        account=api["account"], address="gone@dest.example", reason=SuppressionReason.HARD_BOUNCE
    )
    Suppression.objects.create(
        account=api["account"], address="angry@dest.example", reason=SuppressionReason.COMPLAINT
    )
    client = tea_client(api)
    expected = {
        "Ann.Lee+news@Dest.Example": ("VALID", "UNSPECIFIED"),
        "bob@bare.example": ("VALID", "UNSPECIFIED"),
        "用户@dest.example": ("VALID", "UNSPECIFIED"),  # internationalized
        "not-an-address": ("INVALID", "SYNTAX_INVALID"),
        "a..b@dest.example": ("INVALID", "SYNTAX_INVALID"),
        "ann@gmial.com": ("INVALID", "MISSPELLED"),
        "ann@qq.con": ("INVALID", "MISSPELLED"),
        "ann@163.cm": ("INVALID", "MISSPELLED"),
        "ann@hotmial.com": ("INVALID", "MISSPELLED"),
        "ann@nowhere.example": ("INVALID", "NO_DNS_ENTRIES"),
        "ann@nomail.example": ("INVALID", "NO_DNS_ENTRIES"),
        "ann@textonly.example": ("INVALID", "NO_DNS_ENTRIES"),
        "ann@flaky.example": ("UNKNOWN", "SYSTEM_ERROR"),
        "temp@mailinator.com": ("DONOTMAIL", "DISPOSABLE"),
        "postmaster@dest.example": ("DONOTMAIL", "ROLE_ACCOUNT"),
        "gone@dest.example": ("INVALID", "MAILBOX_NOT_EXISTS"),
        "angry@dest.example": ("DONOTMAIL", "SUPPRESSED"),
    }
    for address, (status, sub_status) in expected.items():
        body = client.validate_email(dm.ValidateEmailRequest(email=address, probe_type="BASIC_ONLY")).body
        assert (address, body.status, body.sub_status) == (address, status, sub_status)
    body = client.validate_email(dm.ValidateEmailRequest(email="Ann.Lee+news@Dest.Example")).body
    assert (body.local_part, body.domain_part, body.is_free_mail) == ("ann.lee", "dest.example", False)


def test_the_accounts_bounce_history_answers_for_addresses_the_suppression_list_does_not_hold(api, dns):
    sender = SenderAddress.objects.filter(account=api["account"], send_type="trigger").first()
    gone, full, back = send(sender, ["Gone@dest.example", "full@dest.example", "back@dest.example"])
    Message.objects.filter(pk=gone.pk).update(state="invalid", bounce_category="bad_mailbox")
    Message.objects.filter(pk=full.pk).update(state="failed", bounce_category="mailbox_full")
    Message.objects.filter(pk=back.pk).update(state="invalid", bounce_category="bad_mailbox")
    send(sender, ["back@dest.example"])  # delivered since: the old bounce says nothing any more
    Message.objects.filter(rcpt="ann@dest.example").delete()
    assert not Suppression.objects.exists()  # the suppression list was never told (here)
    expected = {
        "Gone@dest.example": ("INVALID", "MAILBOX_NOT_EXISTS"),  # as it was sent to (or all in lower case)
        "full@dest.example": ("INVALID", "MAILBOX_FULL"),
        "back@dest.example": ("VALID", "UNSPECIFIED"),
    }
    client = tea_client(api)
    for address, answer in expected.items():
        body = client.validate_email(dm.ValidateEmailRequest(email=address)).body
        assert (address, body.status, body.sub_status) == (address, *answer)
    many = validation.Validator(api["account"].pk)  # a file's or list's way: read at once
    many.prefetch(list(expected))
    assert {
        a: tuple(map(str, (r.status, r.sub_status))) for a in expected for r in [many.validate(a)]
    } == expected


def test_check_disposable(api, dns):
    client = tea_client(api)
    body = client.check_disposable(dm.CheckDisposableRequest(email="temp@mailinator.com")).body
    assert (body.is_format_valid, body.is_disposable, body.is_ok_to_send) == ("true", "true", "false")
    body = client.check_disposable(dm.CheckDisposableRequest(email="ann@dest.example")).body
    assert (body.is_disposable, body.is_mx_valid, body.is_ok_to_send) == ("false", "true", "true")
    body = client.check_disposable(dm.CheckDisposableRequest(email="broken@")).body
    assert (body.is_format_valid, body.is_ok_to_send) == ("false", "false")


def test_the_quota_is_spent_in_thirds_and_refuses_when_used_up(api, dns):
    client = tea_client(api)
    account = api["account"]
    account.validation_monthly_quota = 1
    account.save()
    assert client.get_validation_quota().body.to_map()["TotalQuota"] == 1
    for _ in range(3):  # a basic check costs a third
        client.validate_email(dm.ValidateEmailRequest(email="ann@dest.example"))
    body = client.get_validation_quota().body
    assert (body.total_quota, body.used_quota) == (1, 1)
    shown = {row.key: (row.used, row.limit) for row in account_limits(account)}  # the settings page's
    assert shown["validation_monthly_quota"] == (1, 1) and shown["validation_daily_quota"] == (1, 5000)
    error = refused(lambda: client.validate_email(dm.ValidateEmailRequest(email="ann@dest.example")))
    assert error.code == "Quota.Exhausted" and "this month" in error.message


@pytest.fixture
def mx(dns):
    """dest.example's mail server: a sink that knows its mailboxes (unknown ones: 550 5.1.1)."""
    with SmtpSink() as sink, override_settings(MX_PORT=sink.port, SMTP_TIMEOUT=5):
        dns.add("mx.dest.example", "A", "127.0.0.1")
        dns.add("catchall.example", "MX", "10 mx.dest.example")
        sink.handler.unknown_reply = "550 5.1.1 <x>: Recipient address rejected: User unknown"
        yield sink


def test_full_probe_asks_the_mail_server_without_sending(api, mx):
    client = tea_client(api)
    mx.script("ann@dest.example", "250 2.1.5 OK")
    mx.script("full@dest.example", "452 4.2.2 The email account that you tried to reach is over quota")
    mx.script("grey@dest.example", "451 4.7.1 Greylisted, please try again later")
    mx.script("off@dest.example", "550 5.2.1 The email account that you tried to reach is disabled")
    expected = {
        "ann@dest.example": ("VALID", "UNSPECIFIED"),
        "left.company@dest.example": ("INVALID", "MAILBOX_NOT_EXISTS"),
        "full@dest.example": ("INVALID", "MAILBOX_FULL"),
        "grey@dest.example": ("UNKNOWN", "GREYLISTED"),
        "off@dest.example": ("INVALID", "DISABLED"),
    }
    for address, answer in expected.items():
        body = client.validate_email(dm.ValidateEmailRequest(email=address, probe_type="FULL")).body
        assert (address, body.status, body.sub_status) == (address, *answer)
    assert mx.messages == []  # nothing was ever sent
    # Each probe also asked for a random mailbox of the domain (the catch-all test) once the address passed.
    assert any(r.startswith("dm-probe-") for r in mx.handler.rcpts_seen)
    mx.handler.unknown_reply = ""  # now a server that takes every recipient
    body = client.validate_email(
        dm.ValidateEmailRequest(email="who@catchall.example", probe_type="FULL")
    ).body
    assert (body.status, body.sub_status) == ("CATCHALL", "UNSPECIFIED")
    # Probes cost a whole check; the greylisted (UNKNOWN) one none: 5 of 6 here.
    assert client.get_validation_quota().body.used_quota == 5


@override_settings(VALIDATION_NO_PROBE_PROVIDERS=["gmail"])
def test_providers_that_forbid_probing_are_never_asked(api, mx, dns):
    dns.add("workspace.example", "MX", "10 aspmx.l.google.com")
    dns.add("aspmx.l.google.com", "A", "127.0.0.1")
    client = tea_client(api)
    body = client.validate_email(
        dm.ValidateEmailRequest(email="ann@workspace.example", probe_type="FULL")
    ).body
    assert (body.status, body.sub_status) == ("UNKNOWN", "UNSPECIFIED")
    assert mx.handler.rcpts_seen == []


def test_a_server_that_cannot_be_reached_is_unknown(api, dns):
    dns.add("down.example", "MX", "10 mx.down.example")
    dns.add("mx.down.example", "A", "127.0.0.1")
    client = tea_client(api)
    with override_settings(MX_PORT=free_port(), SMTP_TIMEOUT=2):
        body = client.validate_email(
            dm.ValidateEmailRequest(email="ann@down.example", probe_type="FULL")
        ).body
    assert (body.status, body.sub_status) == ("UNKNOWN", "SMTP_CONNECT_FAILED")


@override_settings(DNS_TIMEOUT=2.0)
def test_bad_input_is_refused_clearly(api, dns):
    client = tea_client(api)
    conflict = refused(
        lambda: client.validate_email(
            dm.ValidateEmailRequest(email="a@dest.example", check_graylist=True, probe_type="BASIC_ONLY")
        )
    )
    assert conflict.code == "InvalidCheckGraylist.Conflict" and "ProbeType FULL" in conflict.message
    assert (
        refused(
            lambda: client.validate_email(dm.ValidateEmailRequest(email="a@dest.example", probe_type="MAYBE"))
        ).code
        == "InvalidProbeType.Malformed"
    )
    assert refused(lambda: client.validate_email(dm.ValidateEmailRequest())).code == "MissingParameter"
    assert client.get_validation_quota().body.used_quota == 0  # refusals cost nothing
    assert not GraylistCheck.objects.exists()


@pytest.fixture
def hooks(api):
    """A webhook endpoint of the account that chose greylist results, on a receiver on loopback."""
    with Receiver() as receiver, override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True):
        WebhookEndpoint.objects.create(
            account=api["account"], url=receiver.url, event_types=["graylist"], secret_encrypted=encrypt("s")
        )
        yield receiver


@override_settings(VALIDATION_GRAYLIST_RETRY_SECONDS=[0, 0, 0])
def test_check_graylist_asks_again_and_sends_the_answer_as_an_event(api, mx, hooks):
    client = tea_client(api)
    mx.script("grey@dest.example", "451 4.7.1 Greylisted, please try again later",
              "451 4.7.1 Greylisted, please try again later", "250 2.1.5 OK")  # fmt: skip
    mx.script("never@dest.example", "450 4.2.0 <never@dest.example>: Recipient address rejected: Greylisted")
    mx.script("ann@dest.example", "250 2.1.5 OK")
    # Without ProbeType, CheckGraylist probes (it asks a greylisted probe again).
    response = client.validate_email(dm.ValidateEmailRequest(email="grey@dest.example", check_graylist=True))
    assert (response.body.status, response.body.sub_status) == ("UNKNOWN", "GREYLISTED")
    client.validate_email(dm.ValidateEmailRequest(email="never@dest.example", check_graylist=True))
    client.validate_email(dm.ValidateEmailRequest(email="ann@dest.example", check_graylist=True))
    assert sorted(GraylistCheck.objects.values_list("email", flat=True)) == [
        "grey@dest.example", "never@dest.example"]  # fmt: skip  # ann answered at once: nothing to ask again
    assert validation_graylist.retry_due() == 2  # still greylisted: both again
    assert validation_graylist.retry_due() == 2  # grey@ answers 250 now
    grey = GraylistCheck.objects.get(email="grey@dest.example")
    assert (grey.state, grey.status, grey.sub_status, grey.attempts) == ("done", "VALID", "UNSPECIFIED", 2)
    assert validation_graylist.retry_due() == 1  # never@'s last retry
    assert validation_graylist.retry_due() == 0
    never = GraylistCheck.objects.get(email="never@dest.example")
    assert (never.state, never.status, never.sub_status, never.attempts) == (
        "done",
        "UNKNOWN",
        "GREYLISTED",
        3,
    )
    assert mx.messages == []  # probes only, never a message
    # One event per ended check, in DirectMail's CloudEvents shape, with the call's RequestId.
    stats_webhooks.deliver_due()
    events = {json.loads(body)["data"]["email"]: json.loads(body) for _headers, body in hooks.received}
    assert set(events) == {"grey@dest.example", "never@dest.example"}
    event = events["grey@dest.example"]
    assert (event["type"], event["source"], event["specversion"]) == (
        "dm:Validator:GrayListResult",
        "acs:dm",
        "1.0",
    )
    assert (event["data"]["status"], event["data"]["sub_status"]) == ("VALID", "UNSPECIFIED")
    assert event["data"]["request_id"] == response.body.request_id
    never_data = events["never@dest.example"]["data"]
    assert (never_data["status"], never_data["sub_status"]) == ("UNKNOWN", "GREYLISTED")
    # Metered as FULL: ann@ and grey@ a whole check each; never@ ended UNKNOWN: none.
    assert client.get_validation_quota().body.used_quota == 2
    GraylistCheck.objects.filter(email="never@dest.example").update(
        finished_at=timezone.now() - timedelta(days=31)
    )
    validation_graylist.retry_due()
    assert list(GraylistCheck.objects.values_list("email", flat=True)) == ["grey@dest.example"]  # old ones go


# A file of 10,000 rows with a known mix, as people upload them: a header, a name column, duplicates.
MIX = [
    ("ann{n}@dest.example", "VALID", 6000),
    ("typo{n}@gmial.com", "INVALID", 1000),
    ("gone{n}@nowhere.example", "INVALID", 1000),
    ("temp{n}@mailinator.com", "DONOTMAIL", 1000),
    ("bad{n}@", "INVALID", 500),
    ("ann{n}@flaky.example", "UNKNOWN", 500),
]


def mixed_file() -> bytes:
    lines = ["name,email"]
    for pattern, _status, count in MIX:
        lines += [f"Person {n},{pattern.format(n=n)}" for n in range(count)]
    lines += ["Again,ann0@dest.example", "Again,ANN1@dest.example"]  # duplicates
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def files(monkeypatch):
    with FileServer() as server, override_settings(WEBHOOK_ALLOW_PRIVATE=True):
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        yield server


def test_a_file_of_ten_thousand_addresses_through_the_whole_path(api, dns, files, client):
    api["account"].validation_daily_quota = 5000
    api["account"].save()
    url = files.add("/list.csv", mixed_file(), "text/csv")
    sdk = tea_client(api)
    file_id = sdk.send_validate_file(dm.SendValidateFileRequest(
        file_url=url, file_name="list.csv", address_column=2, has_header_row=True, remove_duplicate=True,
    )).body.file_id  # fmt: skip
    status = sdk.get_validate_file_status(dm.GetValidateFileStatusRequest(file_id=file_id)).body
    assert (status.status, status.percentage, status.total_num) == ("completed", "100%", "10000")
    expected = {name: sum(c for _p, st, c in MIX if st == name) for name in ("VALID", "INVALID", "DONOTMAIL")}
    found = {"VALID": status.valid_num, "INVALID": status.invalid_num, "DONOTMAIL": status.do_not_mail_num}
    assert found == {name: str(n) for name, n in expected.items()}
    assert (status.unknown_num, status.catch_all_num) == ("500", "0")
    assert sdk.get_validation_quota().body.used_quota == 3334  # a third each, for the month
    link = sdk.get_validate_file(dm.GetValidateFileRequest(file_id=file_id)).body.file_url
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]  # PUBLIC_BASE_URL + the signed path
    result = client.get(path)
    rows = result.content.decode().splitlines()
    assert rows[0] == "name,email,Status,SubStatus,Suggestion"
    assert "Person 0,typo0@gmial.com,INVALID,MISSPELLED,typo0@gmail.com" in rows
    assert len(rows) == 10001
    since, until = "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
    listed = sdk.list_validate_file(dm.ListValidateFileRequest(
        start_time=since, end_time=until, file_keyword="list", page=1, page_size=10,
    )).body  # fmt: skip
    assert [(f.file_id, f.is_downloadable) for f in listed.files] == [(file_id, True)]
    sdk.delete_validate_file(dm.DeleteValidateFileRequest(file_id=file_id))
    assert (
        sdk.get_validate_file_status(dm.GetValidateFileStatusRequest(file_id=file_id)).body.status
        == "deleted"
    )
    assert client.get(path).status_code == 404


def test_a_file_over_the_quota_or_unreachable_fails_and_says_why(api, dns, files):
    api["account"].validation_daily_quota = 1
    api["account"].save()
    sdk = tea_client(api)
    url = files.add("/list.csv", mixed_file(), "text/csv")
    request = dict(file_name="list.csv", address_column=2, has_header_row=True, remove_duplicate=False)
    file_id = sdk.send_validate_file(dm.SendValidateFileRequest(file_url=url, **request)).body.file_id
    status = sdk.get_validate_file_status(dm.GetValidateFileStatusRequest(file_id=file_id)).body
    assert status.status == "failed"  # ErrorMessage says why (ours: the SDK's model does not read it)
    assert "quota for this day is used up" in ValidationJob.objects.get(file_id=file_id).error
    missing = sdk.send_validate_file(
        dm.SendValidateFileRequest(file_url=files.base + "/nothing.csv", **request)
    )
    body = sdk.get_validate_file_status(dm.GetValidateFileStatusRequest(file_id=missing.body.file_id)).body
    assert body.status == "failed" and "404" in ValidationJob.objects.get(file_id=missing.body.file_id).error
    assert (
        refused(lambda: sdk.get_validate_file(dm.GetValidateFileRequest(file_id=file_id))).code
        == "InvalidFile.NotReady"
    )
    assert sdk.get_validation_quota().body.used_quota == 0


def test_a_configuration_set_validates_its_recipients_before_sending(api, dns):
    sdk = tea_client(api)
    option = dm.ConfigSetCreateRequestValidationOption(
        enabled=True, forbidden_status_list=["INVALID", "DONOTMAIL"], forbidden_sub_status_list=[]
    )
    created = sdk.config_set_create(dm.ConfigSetCreateRequest(name="checked", validation_option=option)).body
    sdk.config_set_relation_from_address(
        dm.ConfigSetRelationFromAddressRequest(id=created.id, from_address="noreply@mail.example.com")
    )
    to = "ann@dest.example,ann@gmial.com,postmaster@dest.example,x@nowhere.example"
    sdk.single_send_mail(dm.SingleSendMailRequest(
        account_name="noreply@mail.example.com", address_type=1, reply_to_address=False, subject="Hi",
        text_body="Hello", to_address=to,
    ))  # fmt: skip
    states = dict(Message.objects.values_list("rcpt", "state"))
    assert states == {"ann@dest.example": "delivered", "ann@gmial.com": "invalid",
                      "postmaster@dest.example": "invalid", "x@nowhere.example": "invalid"}  # fmt: skip
    withheld = Message.objects.get(rcpt="ann@gmial.com")
    assert withheld.last_error == "withheld by address validation: INVALID / MISSPELLED"
    assert not CapturedMessage.objects.filter(message=withheld).exists()  # never sent
    assert not Suppression.objects.exists()  # a role account or a typo is not a bounce
    detail = sdk.config_set_detail(dm.ConfigSetDetailRequest(id=created.id)).body.to_map()
    assert detail["Detail"]["ValidationOption"]["Enabled"] is True
