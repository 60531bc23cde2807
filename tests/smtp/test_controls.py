"""DirectMail's control headers and what else the server reads in a message: tag and tracking from
X-AliDM-Trace, unsubscribe settings, both removed before delivery; X-Idempotency-Key; the loop guard;
suppressed recipients and the quota refused with clear replies; bounces handed in without AUTH."""

import base64
import email
import gzip
import json
import smtplib
from email.policy import default as default_policy

import dkim
import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from sending import tracking, unsubscribe
from sending.delivery.worker import return_path
from sending.models import (
    DmarcReport,
    Domain,
    Envelope,
    Message,
    MessageState,
    SenderAddress,
    Suppression,
    TlsReport,
)
from sending.services.egress import pool_create
from sending.services.suppressions import suppression_add
from sending.services.tags import tag_create
from tests.smtp.conftest import DEST
from tests.smtp.test_submission import message

pytestmark = pytest.mark.django_db(transaction=True)


def b64json(value: dict) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_trace_and_settings_headers_are_honoured_and_removed(smtp):
    tag_create(account=smtp.account, name="Test", actor=SYSTEM)
    mail = message(
        X_AliDM_Trace=b64json({"OpenTrace": "1", "LinkTrace": "1", "TagName": "Test"}),
        X_AliDM_Settings=b64json(
            {"Version": "1.0", "Unsubscribe": {"FilterLevel": "mailfrom", "LinkType": "default"}}
        ),
        X_Notify_Message_ID="order-42",
        Bcc="secret@example.org",
    )
    with smtp.client() as client:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], mail.as_bytes())
    envelope = Envelope.objects.get()
    assert (envelope.tag_name, envelope.open_trace, envelope.click_trace) == ("Test", True, True)
    [received] = smtp.sink.messages
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    assert parsed["X-AliDM-Trace"] is None and parsed["X-AliDM-Settings"] is None and parsed["Bcc"] is None
    assert parsed["X-Notify-Message-ID"] == "order-42"


@pytest.mark.parametrize(
    "headers",
    [
        {"X_AliDM_Trace": "not base64!"},
        {"X_AliDM_Trace": base64.b64encode(b"[1, 2]").decode()},
        {"X_AliDM_Trace": b64json({"OpenTrace": "yes"})},
        {"X_AliDM_Settings": b64json({"Unsubscribe": {"FilterLevel": "everyone"}})},
        {"X_AliDM_Trace": b64json({"TagName": "no-such-tag"})},
    ],
)
def test_a_malformed_control_header_is_refused(smtp, headers):
    with smtp.client() as client, pytest.raises(smtplib.SMTPDataError) as caught:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], message(**headers).as_bytes())
    assert caught.value.smtp_code == 504 and b"Invalid setting" in caught.value.smtp_error
    assert not Envelope.objects.exists()


def test_an_idempotency_key_stores_once(smtp):
    first = message(X_Idempotency_Key="order-42-receipt")
    with smtp.client() as client:
        client.ehlo()
        replies = []
        for _attempt in range(2):
            client.mail("noreply@mail.example.com")
            client.rcpt(f"bob@{DEST}")
            replies.append(client.data(first.as_bytes()))
        client.mail("noreply@mail.example.com")
        client.rcpt(f"bob@{DEST}")
        other = message(X_Idempotency_Key="order-42-receipt")
        other.replace_header("Subject", "Something else")
        conflict = client.data(other.as_bytes())
    assert [code for code, _reply in replies] == [250, 250], replies
    env_ids = [reply.decode().split("###envid=")[1] for _code, reply in replies]
    assert env_ids[0] == env_ids[1]
    assert Envelope.objects.count() == 1 and len(smtp.sink.messages) == 1
    assert conflict[0] == 554 and b"X-Idempotency-Key" in conflict[1]


def test_a_message_that_went_round_in_circles_is_refused(smtp):
    mail = message()
    for _hop in range(3):
        mail["Received"] = (
            f"from x ([127.0.0.1]) by {smtp.server.hostname} (directmail) with ESMTPSA id 1; now"
        )
    with smtp.client() as client, pytest.raises(smtplib.SMTPDataError) as caught:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], mail.as_bytes())
    assert caught.value.smtp_code == 554 and b"loop" in caught.value.smtp_error


def test_a_suppressed_recipient_is_refused_at_rcpt(smtp):
    suppression_add(account=smtp.account, address=f"gone@{DEST}", actor=SYSTEM)
    with smtp.client() as client:
        refused = client.sendmail(
            "noreply@mail.example.com", [f"gone@{DEST}", f"bob@{DEST}"], message().as_bytes()
        )
    assert refused[f"gone@{DEST}"][0] == 550 and b"suppression list" in refused[f"gone@{DEST}"][1]
    assert list(Message.objects.values_list("rcpt", flat=True)) == [f"bob@{DEST}"]


def test_the_quota_is_a_temporary_refusal_naming_it(smtp):
    smtp.account.daily_quota = 1
    smtp.account.save()
    with smtp.client() as client:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], message().as_bytes())
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], message().as_bytes())
    assert caught.value.smtp_code == 451 and b"quota" in caught.value.smtp_error
    assert Envelope.objects.count() == 1


def test_a_bounce_is_accepted_without_auth_only_for_our_return_paths(smtp):
    with smtp.client() as client:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], message().as_bytes())
    sent = Message.objects.get()
    bounce_to = return_path(sent)
    dsn = (
        f"From: MAILER-DAEMON@{DEST}\r\nTo: {bounce_to}\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nNo such user\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.{DEST}\r\n\r\n"
        f"Final-Recipient: rfc822; bob@{DEST}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--b--\r\n"
    )
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as mx:
        assert mx.sendmail("", [bounce_to], dsn.encode()) == {}
    sent.refresh_from_db()
    assert sent.state == MessageState.INVALID
    assert Suppression.objects.filter(address=f"bob@{DEST}").exists()


def _arf(to: str, rcpt: str, message_id: str) -> bytes:
    return (
        f"From: staff@hotmail.com\r\nTo: {to}\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nAn abuse report\r\n"
        "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nUser-Agent: Hotmail FBL\r\nVersion: 1\r\nOriginal-Rcpt-To: {rcpt}\r\n\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message_id}>\r\nTo: {rcpt}\r\n\r\n"
        "--b--\r\n"
    ).encode()


def test_feedback_reports_are_taken_at_the_feedback_address_and_the_return_path(smtp):
    with smtp.client() as client:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}", f"carol@{DEST}"], message().as_bytes())
    bob, carol = Message.objects.get(rcpt=f"bob@{DEST}"), Message.objects.get(rcpt=f"carol@{DEST}")
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as mx, pytest.raises(smtplib.SMTPRecipientsRefused):
        mx.sendmail("", ["fbl@unknown.example"], b"Subject: x\r\n\r\nx\r\n")  # only our domains have one
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as mx:
        feedback_to = "FBL@mail.example.com"
        assert mx.sendmail("", [feedback_to], _arf(feedback_to, bob.rcpt, bob.message_id)) == {}
        to = return_path(carol)  # a report at a return path is a report, not a DSN
        assert mx.sendmail("", [to], _arf(to, "redacted@hotmail.com", "x@y")) == {}
    assert set(Suppression.objects.values_list("address", "reason")) == {
        (bob.rcpt, "complaint"),
        (carol.rcpt, "complaint"),
    }
    for sent in (bob, carol):
        sent.refresh_from_db()
        assert sent.state != MessageState.INVALID
        assert sent.events.filter(type="complained").count() == 1


def test_dmarc_and_tls_reports_are_taken_at_the_report_addresses(smtp):
    from tests.sending.test_dmarc_reports import SAMPLES, report_mail

    xml = (SAMPLES / "google.xml").read_bytes().replace(b"mail.acme.example", b"mail.example.com")
    mail = report_mail("noreply-dmarc-support@google.com", "Report domain: mail.example.com", "r.xml.gz",
                       gzip.compress(xml), ("application", "gzip"))  # fmt: skip
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as mx:
        assert mx.sendmail("noreply-dmarc-support@google.com", ["dmarc-reports@mail.example.com"], mail) == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            mx.sendmail("", ["dmarc-reports@unknown.example"], mail)
    report = DmarcReport.objects.get()
    assert (report.domain.name, report.messages, report.org_name) == ("mail.example.com", 130, "google.com")
    tls = (SAMPLES / "google_tlsrpt.json").read_bytes().replace(b"mail.acme.example", b"mail.example.com")
    mail = report_mail("noreply-smtp-tls-reporting@google.com", "Report Domain: mail.example.com",
                       "r.json.gz", gzip.compress(tls), ("application", "tlsrpt+gzip"))  # fmt: skip
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as mx:
        assert (
            mx.sendmail("noreply-smtp-tls-reporting@google.com", ["tls-reports@mail.example.com"], mail) == {}
        )
    assert TlsReport.objects.get().failed == 2


def test_mail_to_a_list_unsubscribe_address_unsubscribes_without_auth(smtp):
    with smtp.client() as client:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], message().as_bytes())
    sent = Message.objects.get()
    Envelope.objects.filter(pk=sent.envelope_id).update(unsubscribe_link=True, unsubscribe_level="sender")
    sent.refresh_from_db()
    _url, mailto = unsubscribe.links(sent)
    note = f"From: bob@{DEST}\r\nTo: {mailto}\r\nSubject: unsubscribe\r\n\r\nPlease stop.\r\n"
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as mx:
        forged = mailto.replace("+", "+1", 1)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            mx.sendmail(f"bob@{DEST}", [forged], note.encode())
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as mx:
        assert mx.sendmail(f"bob@{DEST}", [mailto], note.encode()) == {}
    entry = Suppression.objects.get()
    assert (entry.address, entry.scope, entry.reason) == (
        f"bob@{DEST}",
        "noreply@mail.example.com",
        "unsubscribe",
    )


@override_settings(PUBLIC_BASE_URL="https://track.example.net")
def test_trace_header_tracks_the_html_part_and_dkim_still_verifies(smtp):
    mail = message(X_AliDM_Trace=b64json({"OpenTrace": "1", "LinkTrace": "1"}))
    mail.add_alternative('<p>Hi <a href="https://shop.example/offer">offer</a> 你好</p>', subtype="html")
    with smtp.client() as client:
        client.sendmail("noreply@mail.example.com", [f"bob@{DEST}"], mail.as_bytes())
    sent = Message.objects.get()
    [received] = smtp.sink.messages
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    html = parsed.get_body(("html",)).get_content()
    assert tracking.click_url(sent, "https://shop.example/offer").replace("&", "&amp;") in html
    assert tracking.open_url(sent) in html and "你好" in html
    assert parsed.get_body(("plain",)).get_content().strip() == "Plain body"  # the text part is untouched
    key = Domain.objects.get(name="mail.example.com").active_dkim_key()
    record = f"v=DKIM1; k=rsa; p={key.public_key}".encode()
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)


def test_unsubscribe_filter_level_from_x_alidm_settings(smtp):
    """A trigger address filters no unsubscribes by default (DirectMail's rule); edm_id filters every
    unsubscribe of the account, whichever sender it was made from."""
    Suppression.objects.create(
        account=smtp.account, address=f"left@{DEST}", scope="news@mail.example.com", reason="unsubscribe"
    )
    with smtp.client() as client:
        client.sendmail("noreply@mail.example.com", [f"left@{DEST}"], message().as_bytes())
        settings = b64json(
            {"Version": "1.0", "Unsubscribe": {"FilterLevel": "edm_id", "LinkType": "default"}}
        )
        client.sendmail(
            "noreply@mail.example.com", [f"left@{DEST}", f"bob@{DEST}"],
            message(X_AliDM_Settings=settings).as_bytes(),
        )  # fmt: skip
    first, second = Envelope.objects.order_by("pk")
    assert list(first.messages.values_list("state", flat=True)) == [MessageState.DELIVERED]
    assert dict(second.messages.values_list("rcpt", "state")) == {
        f"left@{DEST}": MessageState.INVALID, f"bob@{DEST}": MessageState.DELIVERED,
    }  # fmt: skip
    assert second.unsubscribe_filter == "edm_id"


def test_an_unknown_outbound_ip_pool_is_refused(smtp):
    settings = b64json({"Version": "1.0", "OutboundIp": {"IpPoolId": "pool-7"}})
    with smtp.client() as client, pytest.raises(smtplib.SMTPDataError) as caught:
        client.sendmail(
            "noreply@mail.example.com", [f"bob@{DEST}"], message(X_AliDM_Settings=settings).as_bytes()
        )
    assert caught.value.smtp_code == 550 and b"pool-7" in caught.value.smtp_error
    assert not Envelope.objects.exists()


def test_an_outbound_ip_pool_of_the_account_routes_the_mail(smtp):
    sender = SenderAddress.objects.get(address="noreply@mail.example.com")
    pool = pool_create(account=sender.account, name="smtp_pool", addresses=[], actor=SYSTEM)
    settings = b64json({"Version": "1.0", "OutboundIp": {"IpPoolId": str(pool.api_id)}})
    with smtp.client() as client:
        client.sendmail(
            "noreply@mail.example.com", [f"bob@{DEST}"], message(X_AliDM_Settings=settings).as_bytes()
        )
    assert Envelope.objects.get().ip_pool == pool
