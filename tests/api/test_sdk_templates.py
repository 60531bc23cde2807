"""Templates through the official SDK: what the API writes goes to review; only an approved version is
sent, with TemplateData filled in (SingleSendMail's Template, BatchSendMail's TemplateName)."""

import email
import re
from email.policy import default as default_policy

import pytest
from alibabacloud_dm20151123 import models as dm
from Tea.exceptions import TeaException

from accounts.audit import SYSTEM, Actor
from accounts.services import user_signup
from sending.models import BatchJob, CapturedMessage, Envelope
from sending.services.lists import list_create, recipients_save
from sending.services.senders import sender_address_create
from templates_app import services
from templates_app.models import Template
from tests.api.clients import tea_client

pytestmark = pytest.mark.django_db(transaction=True)


def tea_error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


def approve(template: Template) -> None:
    reviewer, _account, _created = user_signup(
        email="reviewer@example.com", password=None, account_name="x", actor=SYSTEM
    )
    template.account.memberships.create(user=reviewer, role="reviewer")
    services.version_approve(version=template.latest_version(), actor=Actor(user=reviewer))


def test_templates_round_trip_and_go_to_review(api):
    client = tea_client(api)
    created = client.create_template(
        dm.CreateTemplateRequest(
            template_name="welcome",
            template_subject="Hi {UserName}",
            template_text="<p>Hello {UserName}</p><script>x()</script>",
        )
    ).body
    template = Template.objects.get(api_id=created.template_id)
    described = client.desc_template(dm.DescTemplateRequest(template_id=created.template_id)).body
    assert (described.template_name, described.template_status) == ("welcome", "1")  # waiting for review
    assert described.template_text == "<p>Hello {UserName}</p>"  # sanitized
    listed = client.query_template_by_param(dm.QueryTemplateByParamRequest(key_word="wel")).body
    assert [(t.template_id, t.template_status) for t in listed.data.template] == [(str(template.api_id), "1")]
    assert listed.page_size == 20

    approve(template)
    client.modify_template(
        dm.ModifyTemplateRequest(
            template_id=created.template_id,
            template_name="welcome2",
            template_subject="Hello {UserName}",
            template_text="<p>v2</p>",
        )
    )
    template.refresh_from_db()
    assert template.name == "welcome2" and template.approved_version.number == 1  # v1 stays in use
    described = client.desc_template(dm.DescTemplateRequest(template_id=created.template_id)).body
    assert (described.template_name, described.template_status, described.template_subject) == (
        "welcome2",
        "1",
        "Hello {UserName}",
    )
    assert template.latest_version().number == 2

    client.delete_template(dm.DeleteTemplateRequest(template_id=created.template_id))
    assert not Template.objects.exists()
    error = tea_error(lambda: client.desc_template(dm.DescTemplateRequest(template_id=created.template_id)))
    assert error.code == "InvalidTemplate.NotFound"


def test_single_send_mail_sends_the_approved_version_with_template_data(api):
    template = services.template_create(
        account=api["account"],
        name="receipt",
        subject="Receipt for {UserName}",
        html_body="<p>Dear {UserName}, order {OrderId}.</p>",
        actor=SYSTEM,
    )
    services.version_submit(version=template.latest_version(), actor=SYSTEM)
    client = tea_client(api)
    reference = dm.SingleSendMailRequestTemplate(
        template_id=str(template.api_id), template_data={"UserName": "Ann & Bob", "OrderId": "42"}
    )
    request = dm.SingleSendMailRequest(
        account_name="noreply@mail.example.com",
        address_type=1,
        reply_to_address=False,
        to_address="ann@example.org",
        template=reference,
    )
    assert tea_error(lambda: client.single_send_mail(request)).code == "InvalidTemplate.NotApproved"

    approve(template)
    env_id = client.single_send_mail(request).body.env_id
    raw = CapturedMessage.objects.get(message__envelope__env_id=env_id).raw
    parsed = email.message_from_bytes(bytes(raw), policy=default_policy)
    assert str(parsed["Subject"]) == "Receipt for Ann & Bob"
    assert "Dear Ann &amp; Bob, order 42." in parsed.get_body(("html",)).get_content()

    # Without TemplateData the variables are empty, not an error.
    request.template = dm.SingleSendMailRequestTemplate(template_id=str(template.api_id), template_data={})
    assert client.single_send_mail(request).body.env_id
    request.html_body = "<p>also</p>"
    assert tea_error(lambda: client.single_send_mail(request)).code == "InvalidParameter"


def test_batch_send_mail_with_an_approved_template(api):
    sender_address_create(
        account=api["account"], domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    template = services.template_create(
        account=api["account"],
        name="news",
        subject="News for {UserName}",
        html_body="<p>{UserName}</p>",
        actor=SYSTEM,
    )
    services.version_submit(version=template.latest_version(), actor=SYSTEM)
    approve(template)
    response = tea_client(api).batch_send_mail(
        dm.BatchSendMailRequest(
            account_name="news@mail.example.com",
            address_type=1,
            template_name="news",
            receivers=[
                dm.BatchSendMailRequestReceivers(to=["a@example.org"], template_data={"UserName": "Ann"})
            ],
        )
    )
    envelope = Envelope.objects.get(env_id=response.body.env_id)
    raw = CapturedMessage.objects.get(message__envelope=envelope).raw
    assert str(email.message_from_bytes(bytes(raw), policy=default_policy)["Subject"]) == "News for Ann"


def test_batch_send_mail_to_a_stored_list_is_a_batch_job(api):
    sender_address_create(
        account=api["account"], domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    template = services.template_create(
        account=api["account"],
        name="news",
        subject="News for {UserName}",
        html_body="<p>{City}</p>",
        actor=SYSTEM,
    )
    services.version_submit(version=template.latest_version(), actor=SYSTEM)
    approve(template)
    members = list_create(account=api["account"], name="members", actor=SYSTEM)
    details = [{"e": "a@example.org", "u": "Ann", "City": "Hangzhou"}, {"e": "b@example.org", "u": "Bob"}]
    recipients_save(recipient_list=members, details=details, actor=SYSTEM)
    client = tea_client(api)
    request = dm.BatchSendMailRequest(
        account_name="news@mail.example.com", address_type=1, template_name="news", receivers_name="members"
    )
    env_id = client.batch_send_mail(request).body.env_id
    job = BatchJob.objects.get(envelope__env_id=env_id)
    assert (job.recipient_list, job.template, job.queued) == (members, template, 2)
    raw = CapturedMessage.objects.get(message__envelope__env_id=env_id, message__rcpt="a@example.org").raw
    parsed = email.message_from_bytes(bytes(raw), policy=default_policy)
    assert str(parsed["Subject"]) == "News for Ann" and "Hangzhou" in parsed.get_body(("html",)).get_content()
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    request.receivers_name = "nobody"
    assert tea_error(lambda: client.batch_send_mail(request)).code == "InvalidReceiver.NotFound"
    api["account"].daily_quota = 3
    api["account"].save()
    request.receivers_name = "members"
    error = tea_error(lambda: client.batch_send_mail(request))
    assert error.code == "QuotaExhausted" and "2 messages to send, but only 1" in error.message
    assert BatchJob.objects.count() == 1


def test_batch_send_mail_to_a_stored_list_is_held_to_ip_protection(api):
    from accounts.access import ip_filter_add

    sender_address_create(
        account=api["account"], domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    template = services.template_create(
        account=api["account"], name="news", subject="News", html_body="<p>x</p>", actor=SYSTEM
    )
    services.version_submit(version=template.latest_version(), actor=SYSTEM)
    approve(template)
    members = list_create(account=api["account"], name="members", actor=SYSTEM)
    details = [{"e": f"m{n}@example.org"} for n in range(5)]
    recipients_save(recipient_list=members, details=details, actor=SYSTEM)
    ip_filter_add(account=api["account"], network="203.0.113.0/24", actor=SYSTEM)
    request = dm.BatchSendMailRequest(
        account_name="news@mail.example.com", address_type=1, template_name="news", receivers_name="members"
    )
    assert tea_error(lambda: tea_client(api).batch_send_mail(request)).code == "InvalidIp.Forbidden"
    assert not BatchJob.objects.exists() and not Envelope.objects.exists()


def test_control_characters_never_reach_the_delivered_headers(api):
    """TemplateData with control characters is refused; line breaks in it and control characters in a
    list's fields become spaces in the subject."""
    template = services.template_create(
        account=api["account"], name="hello", subject="Hi {UserName}", html_body="<p>x</p>", actor=SYSTEM
    )
    services.version_submit(version=template.latest_version(), actor=SYSTEM)
    approve(template)
    client = tea_client(api)

    def send(name: str):
        reference = dm.SingleSendMailRequestTemplate(
            template_id=str(template.api_id), template_data={"UserName": name}
        )
        return client.single_send_mail(
            dm.SingleSendMailRequest(
                account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
                to_address="a@example.org", template=reference,
            )
        )  # fmt: skip

    for char in "\x00\x1b\x07\x0b\x0c\x1c":
        error = tea_error(lambda char=char: send(f"Ann{char}"))
        assert error.code == "InvalidParameter" and "control characters" in error.message
    env_id = send("Ann\r\nBcc: x@evil.test").body.env_id
    raw = bytes(CapturedMessage.objects.get(message__envelope__env_id=env_id).raw)
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert str(parsed["Subject"]) == "Hi Ann Bcc: x@evil.test" and parsed["Bcc"] is None

    sender_address_create(
        account=api["account"], domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    members = list_create(account=api["account"], name="members", actor=SYSTEM)
    recipients_save(
        recipient_list=members, details=[{"e": "b@example.org", "u": "Bob\x1b[31m\x07\x0b"}], actor=SYSTEM
    )
    request = dm.BatchSendMailRequest(
        account_name="news@mail.example.com", address_type=1, template_name="hello", receivers_name="members"
    )
    env_id = client.batch_send_mail(request).body.env_id
    raw = bytes(CapturedMessage.objects.get(message__envelope__env_id=env_id).raw)
    head = raw.partition(b"\r\n\r\n")[0]
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", head)
    assert str(email.message_from_bytes(raw, policy=default_policy)["Subject"]) == "Hi Bob [31m"


def test_a_link_variable_cannot_deliver_a_script_link(api):
    markup = '<p><a href="{Link}">open</a></p>'
    template = services.template_create(
        account=api["account"], name="link", subject="Your link", html_body=markup, actor=SYSTEM
    )
    services.version_submit(version=template.latest_version(), actor=SYSTEM)
    approve(template)
    client = tea_client(api)
    for link, kept in (("javascript:alert(document.cookie)", False), ("https://shop.example.com/o/42", True)):
        reference = dm.SingleSendMailRequestTemplate(
            template_id=str(template.api_id), template_data={"Link": link}
        )
        request = dm.SingleSendMailRequest(
            account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
            to_address="a@example.org", template=reference,
        )  # fmt: skip
        env_id = client.single_send_mail(request).body.env_id
        raw = bytes(CapturedMessage.objects.get(message__envelope__env_id=env_id).raw)
        body = email.message_from_bytes(raw, policy=default_policy).get_body(("html",)).get_content()
        assert ("javascript:" in body, link in body) == (False, kept)


def test_batch_send_mail_precedence_and_the_stored_list_path_keeps_reply_to_and_headers(api):
    """TemplateName wins over TemplateContent, ReceiversName over Receivers (DirectMail's precedence); the
    stored-list path keeps ReplyAddress, ReplyAddressAlias and Headers."""
    sender_address_create(
        account=api["account"], domain=api["domain"], local_part="news", send_type="batch", actor=SYSTEM
    )
    template = services.template_create(
        account=api["account"], name="news", subject="From the template", html_body="<p>T</p>", actor=SYSTEM
    )
    services.version_submit(version=template.latest_version(), actor=SYSTEM)
    approve(template)
    members = list_create(account=api["account"], name="members", actor=SYSTEM)
    recipients_save(recipient_list=members, details=[{"e": "a@example.org"}], actor=SYSTEM)
    request = dm.BatchSendMailRequest(
        account_name="news@mail.example.com", address_type=1, template_name="news", receivers_name="members",
        template_content=dm.BatchSendMailRequestTemplateContent(subject="Inline", html_body="<p>I</p>"),
        receivers=[dm.BatchSendMailRequestReceivers(to=["inline@example.org"])],
        reply_address="help@example.com", reply_address_alias="Help desk",
        headers='{"X-User-Campaign": "spring"}',
    )  # fmt: skip
    env_id = tea_client(api).batch_send_mail(request).body.env_id
    raw = CapturedMessage.objects.get(message__envelope__env_id=env_id).raw
    parsed = email.message_from_bytes(bytes(raw), policy=default_policy)
    assert parsed["To"] == "a@example.org" and str(parsed["Subject"]) == "From the template"
    assert parsed["Reply-To"] == "Help desk <help@example.com>"
    assert parsed["X-User-Campaign"] == "spring"
    request.headers = '{"Bcc": "x@example.org"}'
    assert tea_error(lambda: tea_client(api).batch_send_mail(request)).code == "InvalidHeaders"


def test_modify_template_changes_only_what_it_is_given_and_the_nickname_is_the_sender_name(api):
    client = tea_client(api)
    created = client.create_template(
        dm.CreateTemplateRequest(
            template_name="receipt", template_subject="Your receipt", template_text="<p>Thanks</p>",
            template_nick_name="Acme Billing Department", template_type=0, from_type=1,
        )
    ).body  # fmt: skip
    template = Template.objects.get(api_id=int(created.template_id))
    assert template.latest_version().from_alias == "Acme Billing Department"
    client.modify_template(
        dm.ModifyTemplateRequest(template_id=template.api_id, template_subject="Receipt #1")
    )
    latest = template.latest_version()
    assert (latest.subject, latest.html_body, latest.from_alias) == (
        "Receipt #1", "<p>Thanks</p>", "Acme Billing Department",
    )  # fmt: skip
    described = client.desc_template(dm.DescTemplateRequest(template_id=template.api_id)).body
    assert described.template_nick_name == "Acme Billing Department" and described.template_name == "receipt"
    versions = template.versions.count()
    client.modify_template(dm.ModifyTemplateRequest(template_id=template.api_id, template_name="receipts"))
    template.refresh_from_db()
    assert template.name == "receipts" and template.versions.count() == versions  # a rename only

    approve(template)
    client.single_send_mail(
        dm.SingleSendMailRequest(
            account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
            to_address="ann@example.org",
            template=dm.SingleSendMailRequestTemplate(template_id=template.api_id),
        )
    )  # fmt: skip
    raw = CapturedMessage.objects.get(message__rcpt="ann@example.org").raw
    assert email.message_from_bytes(bytes(raw), policy=default_policy)["From"] == (
        "Acme Billing Department <noreply@mail.example.com>"
    )
