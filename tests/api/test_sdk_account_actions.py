"""The actions DirectMail's SDK has beyond sending and the first management set, through the official SDK:
suppressions and blocked sending, the suppression list level, IP protection's switch, GetUser/UpdateUser,
reply-to verification, the domain's SMTP password and DKIM key length, QueryTaskByParam, SendTestByTemplate,
and the actions answered with a clear refusal (Sendify, the families still to come)."""

import pytest
from alibabacloud_dm20151123 import models as dm
from django.core import mail as outbox
from django.utils import timezone
from Tea.exceptions import TeaException

from accounts.access import ip_filter_add
from accounts.audit import SYSTEM
from accounts.models import AuditEntry
from accounts.services import user_signup
from sending.models import (
    BatchJob,
    BatchStatus,
    CapturedMessage,
    Message,
    MessageState,
    Suppression,
    SuppressionReason,
)
from sending.services.senders import reply_to_token, sender_address_create
from sending.services.suppressions import suppression_add
from templates_app import services as template_services
from tests.api.clients import tea_client
from tests.sending.helpers import verified_domain

pytestmark = pytest.mark.django_db(transaction=True)


def refused(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


def test_user_suppressions_round_trip(api):
    client = tea_client(api)
    account = api["account"]
    created = client.create_user_suppression(dm.CreateUserSuppressionRequest(address="Gone@Example.org")).body
    entry = Suppression.objects.get(pk=int(created.suppression_id))
    assert (entry.address, entry.reason, entry.account) == (
        "gone@example.org",
        SuppressionReason.MANUAL,
        account,
    )
    Suppression.objects.create(
        account=account, address="bounced@other.test", reason=SuppressionReason.HARD_BOUNCE
    )
    Suppression.objects.create(
        account=account, address="left@example.org", reason=SuppressionReason.UNSUBSCRIBE
    )

    listed = client.list_user_suppression(dm.ListUserSuppressionRequest()).body
    assert listed.total_count == 2  # an unsubscribe is blocked sending, not a user suppression
    assert {s.address: s.type for s in listed.data.user_suppressions} == {
        "gone@example.org": "manual", "bounced@other.test": "hard_bounce",
    }  # fmt: skip
    by_domain = client.list_user_suppression(dm.ListUserSuppressionRequest(address="other.test")).body
    assert [s.address for s in by_domain.data.user_suppressions] == ["bounced@other.test"]
    now = int(timezone.now().timestamp())
    bounced = client.list_user_suppression(
        dm.ListUserSuppressionRequest(start_bounce_time=now - 60, end_bounce_time=now + 60)
    ).body
    [hit] = bounced.data.user_suppressions
    assert hit.address == "bounced@other.test" and abs(hit.last_bounce_time - now) < 60
    too_long = refused(
        lambda: client.list_user_suppression(
            dm.ListUserSuppressionRequest(start_create_time=now - 8 * 86400, end_create_time=now)
        )
    )
    assert too_long.code == "InvalidParameter"

    # Mail to a suppressed address is dropped (counted invalid); removing the entry sends it again.
    assert (
        refused(
            lambda: client.create_user_suppression(
                dm.CreateUserSuppressionRequest(address="gone@example.org")
            )
        ).code
        == "InvalidAddress.Malformed"
    )
    ids = ",".join(str(s.suppression_id) for s in listed.data.user_suppressions)
    client.remove_user_suppression(dm.RemoveUserSuppressionRequest(suppression_ids=ids))
    assert not Suppression.objects.filter(reason__in=["manual", "hard_bounce"]).exists()
    assert AuditEntry.objects.filter(action="suppression.remove").count() == 2
    missing = refused(
        lambda: client.remove_user_suppression(dm.RemoveUserSuppressionRequest(suppression_ids="1"))
    )
    assert missing.code == "InvalidSuppressionId.NotFound"


def test_another_accounts_suppressions_are_not_found(api):
    _user, other, _created = user_signup(email="o@example.net", password=None, account_name="O", actor=SYSTEM)
    theirs = suppression_add(account=other, address="x@example.org", actor=SYSTEM)
    client = tea_client(api)
    assert client.list_user_suppression(dm.ListUserSuppressionRequest()).body.total_count == 0
    error = refused(
        lambda: client.remove_user_suppression(
            dm.RemoveUserSuppressionRequest(suppression_ids=str(theirs.pk))
        )
    )
    assert error.code == "InvalidSuppressionId.NotFound"
    assert Suppression.objects.filter(pk=theirs.pk).exists()


def test_global_suppression_level_filters_every_accounts_hard_bounces(api):
    _user, other, _created = user_signup(email="o@example.net", password=None, account_name="O", actor=SYSTEM)
    Suppression.objects.create(
        account=other, address="dead@example.org", reason=SuppressionReason.HARD_BOUNCE
    )
    Suppression.objects.create(
        account=other, address="left@example.org", reason=SuppressionReason.UNSUBSCRIBE
    )
    client = tea_client(api)
    assert (
        client.get_suppression_list_level(dm.GetSuppressionListLevelRequest()).body.suppression_list_level
        == "USER"
    )

    def send() -> dict[str, str]:
        env_id = client.single_send_mail(
            dm.SingleSendMailRequest(
                account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
                to_address="dead@example.org,left@example.org", subject="Hi", text_body="Hello",
            )
        ).body.env_id  # fmt: skip
        return dict(Message.objects.filter(envelope__env_id=env_id).values_list("rcpt", "state"))

    assert send() == {"dead@example.org": MessageState.DELIVERED, "left@example.org": MessageState.DELIVERED}
    answer = client.set_suppression_list_level(
        dm.SetSuppressionListLevelRequest(suppression_list_level="GLOBAL")
    )
    assert answer.body.suppression_list_level == "GLOBAL"
    assert (
        client.get_suppression_list_level(dm.GetSuppressionListLevelRequest()).body.suppression_list_level
        == "GLOBAL"
    )
    # Another account's hard bounce stops this mail; its unsubscribes concern its own mail only.
    assert send() == {"dead@example.org": MessageState.INVALID, "left@example.org": MessageState.DELIVERED}
    bad = refused(
        lambda: client.set_suppression_list_level(
            dm.SetSuppressionListLevelRequest(suppression_list_level="ALL")
        )
    )
    assert bad.code == "InvalidParameter"


def test_blocked_sending_lists_and_lifts_unsubscribes_and_complaints(api):
    account, client = api["account"], tea_client(api)
    sender = "noreply@mail.example.com"
    Suppression.objects.create(account=account, address="a@example.org", scope=sender, reason="unsubscribe")
    Suppression.objects.create(
        account=account, address="b@example.org", scope="@mail.example.com", reason="unsubscribe"
    )
    Suppression.objects.create(
        account=account, address="c@example.org", scope="other@elsewhere.test", reason="unsubscribe"
    )
    Suppression.objects.create(account=account, address="d@example.org", reason="complaint")

    unsubscribed = client.list_block_sending(
        dm.ListBlockSendingRequest(block_type="UNSUB", sender_email=sender)
    ).body
    assert sorted(d.block_email for d in unsubscribed.data) == ["a@example.org", "b@example.org"]
    assert unsubscribed.next_token == ""
    paged = client.list_block_sending(dm.ListBlockSendingRequest(block_type="UNSUB", max_results=2)).body
    assert len(paged.data) == 2 and paged.next_token
    rest = client.list_block_sending(
        dm.ListBlockSendingRequest(block_type="UNSUB", max_results=2, next_token=paged.next_token)
    ).body
    assert len(rest.data) == 1 and rest.next_token == ""
    [report] = client.list_block_sending(dm.ListBlockSendingRequest(block_type="REPORT")).body.data
    assert report.block_email == "d@example.org" and report.block_time > 0

    client.unblock_sending(
        dm.UnblockSendingRequest(block_email="a@example.org", block_type="UNSUB", sender_email=sender)
    )
    assert not Suppression.objects.filter(address="a@example.org").exists()
    nothing = refused(
        lambda: client.unblock_sending(
            dm.UnblockSendingRequest(block_email="a@example.org", block_type="UNSUB", sender_email=sender)
        )
    )
    assert nothing.code == "InvalidBlockEmail.NotFound"
    assert refused(lambda: client.list_block_sending(dm.ListBlockSendingRequest(block_type="SPAM"))).code == (
        "InvalidParameter"
    )


def test_ip_protection_switch(api):
    client = tea_client(api)
    assert client.get_ip_protection(dm.GetIpProtectionRequest()).body.ip_protection == "1"
    ip_filter_add(account=api["account"], network="203.0.113.0/24", actor=SYSTEM)
    assert (
        refused(lambda: client.get_ip_protection(dm.GetIpProtectionRequest())).code == "InvalidIp.Forbidden"
    )
    api["account"].ip_protection = False  # as an owner would turn it off in the console
    api["account"].save()
    assert client.get_ip_protection(dm.GetIpProtectionRequest()).body.ip_protection == "0"
    client.update_ip_protection(dm.UpdateIpProtectionRequest(ip_protection="1"))
    assert (
        refused(lambda: client.get_ip_protection(dm.GetIpProtectionRequest())).code == "InvalidIp.Forbidden"
    )
    assert AuditEntry.objects.filter(action="ip_filter.protection").exists()


def test_ip_protection_values_are_checked(api):
    error = refused(
        lambda: tea_client(api).update_ip_protection(dm.UpdateIpProtectionRequest(ip_protection="on"))
    )
    assert error.code == "InvalidParameter"


def test_get_user_and_update_user(api):
    client = tea_client(api)
    assert client.get_user().body.data.enable_eventbridge is False
    client.update_user(dm.UpdateUserRequest(user=dm.UpdateUserRequestUser(enable_eventbridge=False)))
    error = refused(
        lambda: client.update_user(
            dm.UpdateUserRequest(user=dm.UpdateUserRequestUser(enable_eventbridge=True))
        )
    )
    assert error.code == "InvalidParameter.EventBridge" and "webhooks" in error.message


def test_reply_to_verification_over_the_api(api):
    account, client = api["account"], tea_client(api)
    sender = sender_address_create(
        account=account, domain=api["domain"], local_part="news", send_type="batch",
        reply_to="replies@example.org", actor=SYSTEM,
    )  # fmt: skip
    outbox.outbox.clear()
    client.check_reply_to_mail_address(
        dm.CheckReplyToMailAddressRequest(mail_address_id=sender.api_id, lang="en", region="cn")
    )
    [letter] = outbox.outbox
    assert letter.to == ["replies@example.org"] and reply_to_token(sender) in letter.body
    client.approve_reply_mail_address(dm.ApproveReplyMailAddressRequest(ticket=reply_to_token(sender)))
    sender.refresh_from_db()
    assert sender.reply_to_verified_at is not None
    again = refused(
        lambda: client.check_reply_to_mail_address(
            dm.CheckReplyToMailAddressRequest(mail_address_id=sender.api_id)
        )
    )
    assert again.code == "InvalidReplyAddress.Verified"
    assert (
        refused(
            lambda: client.approve_reply_mail_address(dm.ApproveReplyMailAddressRequest(ticket="forged"))
        ).code
        == "InvalidTicket"
    )


def test_a_ticket_of_another_accounts_sender_is_refused(api):
    _user, other, _created = user_signup(email="o@example.net", password=None, account_name="O", actor=SYSTEM)
    theirs = sender_address_create(
        account=other, domain=verified_domain(other, "o.example.net"), local_part="x", send_type="trigger",
        reply_to="r@example.net", actor=SYSTEM,
    )  # fmt: skip
    error = refused(
        lambda: tea_client(api).approve_reply_mail_address(
            dm.ApproveReplyMailAddressRequest(ticket=reply_to_token(theirs))
        )
    )
    assert error.code == "InvalidTicket"
    theirs.refresh_from_db()
    assert theirs.reply_to_verified_at is None


def test_change_domain_dkim_record_rotates_to_the_asked_length(api):
    client, domain = tea_client(api), api["domain"]
    same = client.change_domain_dkim_record(
        dm.ChangeDomainDkimRecordRequest(domain=domain.name, dkim_rsa_length=2048)
    ).body
    assert same.changed is False and same.dkim_rsa_length == 2048
    answer = client.change_domain_dkim_record(
        dm.ChangeDomainDkimRecordRequest(domain=domain.name, dkim_rsa_length=1024)
    ).body
    pending = domain.dkim_keys.get(status="pending")
    assert answer.changed is True and pending.bits == 1024 and answer.dkim_public_key == pending.public_key
    assert answer.hostname == f"{pending.selector}._domainkey.mail"  # relative to example.com
    assert domain.active_dkim_key().bits == 2048  # signs until the new record verifies
    busy = refused(
        lambda: client.change_domain_dkim_record(
            dm.ChangeDomainDkimRecordRequest(domain=domain.name, dkim_rsa_length=2048)
        )
    )
    assert busy.code == "InvalidDomain.DkimPending"
    assert (
        refused(
            lambda: client.change_domain_dkim_record(
                dm.ChangeDomainDkimRecordRequest(domain=domain.name, dkim_rsa_length=4096)
            )
        ).code
        == "InvalidParameter"
    )
    assert (
        refused(
            lambda: client.change_domain_dkim_record(
                dm.ChangeDomainDkimRecordRequest(domain="nope.example", dkim_rsa_length=1024)
            )
        ).code
        == "InvalidDomain.NotFound"
    )


def test_create_domain_with_a_dkim_selector(api):
    client = tea_client(api)
    created = client.create_domain(
        dm.CreateDomainRequest(domain_name="news.example.org", dkim_selector="s2026")
    ).body
    described = client.desc_domain(dm.DescDomainRequest(domain_id=int(created.domain_id))).body
    assert described.dkim_rr == "s2026._domainkey.news"
    bad = refused(
        lambda: client.create_domain(dm.CreateDomainRequest(domain_name="b.example.org", dkim_selector="a b"))
    )
    assert bad.code == "InvalidDomainName.Malformed" and "selector" in bad.message


def test_domain_password_logs_every_sender_of_the_domain_in(api):
    from sending.smtp.handler import Login, _check_login

    client, domain = tea_client(api), api["domain"]
    weak = refused(
        lambda: client.modify_pwby_domain(
            dm.ModifyPWByDomainRequest(domain_name=domain.name, password="short")
        )
    )
    assert weak.code == "InvalidPassword.Malformed"
    answer = client.modify_pwby_domain(
        dm.ModifyPWByDomainRequest(domain_name=domain.name, password="Ab12Cd34Ef")
    ).body
    assert answer.success is True
    again = refused(
        lambda: client.modify_pwby_domain(
            dm.ModifyPWByDomainRequest(domain_name=domain.name, password="Ab12Cd34Ef")
        )
    )
    assert again.code == "InvalidPassword.Malformed" and "differ" in again.message
    login = _check_login("noreply@mail.example.com", "Ab12Cd34Ef", "127.0.0.1")
    assert isinstance(login, Login) and login.address == "noreply@mail.example.com"
    assert _check_login("noreply@mail.example.com", "wrong-Pass12", "127.0.0.1") != login
    assert not isinstance(_check_login("nobody@mail.example.com", "Ab12Cd34Ef", "127.0.0.1"), Login)


def test_query_task_by_param_lists_batch_sends(api):
    account, client = api["account"], tea_client(api)
    sender = sender_address_create(
        account=account, domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    template = template_services.template_create(
        account=account, name="Spring sale", kind="email", subject="Sale", html_body="<p>Hi</p>", actor=SYSTEM
    )
    done = BatchJob.objects.create(account=account, name="March", sender=sender, template=template,
                                   status=BatchStatus.DONE, total=120)  # fmt: skip
    BatchJob.objects.create(
        account=account, name="April", sender=sender, status=BatchStatus.SCHEDULED, total=5
    )
    BatchJob.objects.create(account=account, name="Draft", sender=sender, status=BatchStatus.DRAFT)
    listed = client.query_task_by_param(dm.QueryTaskByParamRequest()).body
    assert listed.total_count == 2 and listed.page_size == 10
    assert [(t.task_status, t.request_count) for t in listed.data.task] == [("0", "5"), ("1", "120")]
    sent = client.query_task_by_param(dm.QueryTaskByParamRequest(status=1, key_word="spring")).body
    [task] = sent.data.task
    assert task.task_id == str(done.pk) and task.template_name == "Spring sale" and task.utc_create_time > 0


def test_send_test_by_template_sends_the_newest_version(api):
    account = api["account"]
    template = template_services.template_create(
        account=account, name="Welcome", kind="email", subject="Hello {UserName}",
        html_body="<p>Hi {NickName}, code {Code}</p>", actor=SYSTEM,
    )  # fmt: skip
    tea_client(api).send_test_by_template(
        dm.SendTestByTemplateRequest(
            template_id=template.api_id, account_name="noreply@mail.example.com", email="ann@example.org",
            user_name="Ann", nick_name="annie", template_params='{"Code": "X1"}',
        )
    )  # fmt: skip
    message = Message.objects.get(rcpt="ann@example.org")
    raw = bytes(CapturedMessage.objects.get(message=message).raw)
    assert message.subject == "Hello Ann" and b"Hi annie, code X1" in raw
    assert (
        refused(
            lambda: tea_client(api).send_test_by_template(
                dm.SendTestByTemplateRequest(
                    template_id=1, account_name="noreply@mail.example.com", email="a@b.org"
                )
            )
        ).code
        == "InvalidTemplate.NotFound"
    )


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.get_sendify_info(), "InvalidAction.NotOffered"),
    ],
)
def test_actions_not_offered_say_so(api, call, code):
    assert refused(lambda: call(tea_client(api))).code == code
