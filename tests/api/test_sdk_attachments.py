"""SingleSendMail's Attachments and BccAddress through the official SDKs: files fetched from a local HTTPS
server (its own test CA) arrive byte for byte with their names and types; Bcc copies arrive and no header
shows them; a file that cannot be fetched refuses the call and stores nothing."""

import email
import email.policy
import json
import os
import time

import pytest
from alibabacloud_dm20151123 import models as dm
from aliyunsdkcore.request import CommonRequest
from django.test import override_settings
from Tea.exceptions import TeaException

from sending.models import CapturedMessage, Envelope, EnvelopeAttachment, Message
from tests.api.clients import core_client, tea_client
from tests.fileserver import FileServer
from tests.smtpsink import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n" + os.urandom(30_000) + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(5_000)
TEXT = "第一行\r\nzweite Zeile\n".encode()


@pytest.fixture
def files(monkeypatch):
    with FileServer() as server, override_settings(WEBHOOK_ALLOW_PRIVATE=True):
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        yield server


def send(api, **fields):
    request = dm.SingleSendMailRequest(
        **{
            "account_name": "noreply@mail.example.com", "address_type": 1, "reply_to_address": False,
            "to_address": "ann@example.org", "subject": "Your invoice", "html_body": "<p>Attached.</p>",
            **fields,
        }
    )  # fmt: skip
    return tea_client(api).single_send_mail(request).body


def received(rcpt: str) -> email.message.EmailMessage:
    raw = bytes(CapturedMessage.objects.get(message__rcpt=rcpt).raw)
    return email.message_from_bytes(raw, policy=email.policy.default)


def attachment(name: str, url: str) -> dm.SingleSendMailRequestAttachments:
    return dm.SingleSendMailRequestAttachments(attachment_name=name, attachment_url=url)


def test_attachments_arrive_byte_for_byte(api, files):
    body = send(
        api,
        attachments=[
            attachment("invoice.pdf", files.add("/a/invoice.pdf", PDF, "application/octet-stream")),
            attachment("logo.png", files.add("/logo", PNG, "image/png")),
            attachment("说明 notes.txt", files.add("/notes", TEXT, "text/plain")),
        ],
    )
    mail = received("ann@example.org")
    assert mail.get_content_type() == "multipart/mixed"
    parts = list(mail.iter_attachments())
    assert [p.get_filename() for p in parts] == ["invoice.pdf", "logo.png", "说明 notes.txt"]
    assert [p.get_content_type() for p in parts] == ["application/pdf", "image/png", "text/plain"]
    assert [p.get_payload(decode=True) for p in parts] == [PDF, PNG, TEXT]
    assert mail.get_body(("html",)).get_content().strip() == "<p>Attached.</p>"
    assert Envelope.objects.get(env_id=body.env_id).attachment_count == 3
    assert files.requests == ["/a/invoice.pdf", "/logo", "/notes"]  # fetched once, at acceptance


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_attachments_through_the_core_sdk_and_a_checked_redirect(api, files, method):
    files.add("/current/report.pdf", PDF, "application/pdf")
    url = files.redirect("/report", "/current/report.pdf")
    request = CommonRequest(domain=api["endpoint"], version="2015-11-23", action_name="SingleSendMail")
    request.set_protocol_type("http")
    request.set_method(method)
    for name, value in {
        "AccountName": "noreply@mail.example.com", "AddressType": "1", "ReplyToAddress": "false",
        "ToAddress": "bob@example.org", "Subject": "Report", "TextBody": "See the file.",
        "Attachments.1.AttachmentName": "report.pdf", "Attachments.1.AttachmentUrl": url,
    }.items():  # fmt: skip
        if method == "POST":
            request.add_body_params(name, value)
        else:
            request.add_query_param(name, value)
    json.loads(core_client(api).do_action_with_exception(request))
    [part] = received("bob@example.org").iter_attachments()
    assert part.get_payload(decode=True) == PDF


@pytest.mark.parametrize(
    "case",
    ["missing", "internal", "plain-http", "redirect-inside", "no-name"],
)
def test_a_file_that_cannot_be_fetched_refuses_the_call(api, files, case):
    url = {
        "missing": files.base + "/nothing-here",
        "internal": files.add("/x.pdf", PDF),
        "plain-http": files.base.replace("https:", "http:") + "/x.pdf",
        "redirect-inside": files.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data"),
        "no-name": files.add("/y.pdf", PDF),
    }[case]
    settings = {"WEBHOOK_ALLOW_PRIVATE": case != "internal"}
    with override_settings(**settings), pytest.raises(TeaException) as caught:
        send(api, attachments=[attachment("" if case == "no-name" else "x.pdf", url)])
    assert caught.value.code == "InvalidAttachment"
    assert "Attachments.1" in caught.value.message
    assert not Envelope.objects.exists() and not EnvelopeAttachment.objects.exists()


def test_too_many_attachments_are_refused_before_any_fetch(api, files):
    url = files.add("/tiny.txt", b"x", "text/plain")
    with pytest.raises(TeaException) as caught:
        send(api, attachments=[attachment(f"{n}.txt", url) for n in range(101)])
    assert caught.value.code == "InvalidAttachment"
    assert files.requests == []


def test_bcc_copies_arrive_and_nothing_shows_them(api):
    body = send(
        api,
        to_address="ann@example.org",
        bcc_address="audit@example.net, archive@example.net",
        click_trace="1",
        html_body='<p>Read <a href="https://shop.example.com/order/7">your order</a>.</p>',
    )
    rcpts = sorted(Message.objects.filter(envelope__env_id=body.env_id).values_list("rcpt", "bcc"))
    assert rcpts == [("ann@example.org", False), ("archive@example.net", True), ("audit@example.net", True)]
    for rcpt in ("ann@example.org", "audit@example.net", "archive@example.net"):
        raw = bytes(CapturedMessage.objects.get(message__rcpt=rcpt).raw)
        head = raw.partition(b"\r\n\r\n")[0]
        assert b"audit@" not in head and b"archive@" not in head and b"Bcc" not in head
        assert received(rcpt)["To"] == "ann@example.org"
    # The Bcc copy is the same mail, untracked: its link is the original one.
    link = "https://shop.example.com/order/7"
    assert link in received("audit@example.net").get_body(("html",)).get_content()
    assert link not in received("ann@example.org").get_body(("html",)).get_content()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"bcc_address": "a@example.net,b@example.net,c@example.net"}, "InvalidToAddress.Exceeded"),
        ({"bcc_address": "not an address"}, "InvalidParameter"),
        ({"subject": "x" * 257}, "InvalidSubject.Malformed"),
        ({"address_type": 3}, "InvalidParameter"),
        ({"ip_pool_id": "pool-1"}, "InvalidIpPoolId.NotFound"),
    ],
)
def test_refused_parameters(api, fields, code):
    with pytest.raises(TeaException) as caught:
        send(api, **fields)
    assert caught.value.code == code
    assert not Envelope.objects.exists()


def test_a_subject_of_256_characters_is_sent(api):
    body = send(api, subject="é" * 256)
    assert Envelope.objects.get(env_id=body.env_id).subject == "é" * 256


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["acs3", "rpc-v2"])
def test_attachments_and_bcc_reach_a_real_receiving_server(api, files, algorithm):
    """Relayed to an SMTP sink: the files byte for byte, the Bcc copy as its own SMTP transaction."""
    url = files.add("/scan.png", PNG, "image/png")
    with (
        SmtpSink() as sink,
        override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
    ):
        request = dm.SingleSendMailRequest(
            account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
            to_address="ann@example.org", bcc_address="audit@example.net", subject="Scan", text_body="Here.",
            attachments=[attachment("scan.png", url)],
        )  # fmt: skip
        tea_client(api, algorithm=algorithm).single_send_mail(request)
        deadline = time.monotonic() + 10
        while len(sink.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    by_rcpt = {tuple(m.rcpt_tos): m for m in sink.messages}
    assert set(by_rcpt) == {("ann@example.org",), ("audit@example.net",)}
    for received_mail in by_rcpt.values():
        parsed = email.message_from_bytes(received_mail.data, policy=email.policy.default)
        [part] = parsed.iter_attachments()
        assert part.get_payload(decode=True) == PNG and parsed["To"] == "ann@example.org"
        assert b"audit@" not in received_mail.data.partition(b"\r\n\r\n")[0]
