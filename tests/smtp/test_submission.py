"""Standard clients submit through the SMTP server: smtplib with STARTTLS and implicit TLS, AUTH LOGIN and
PLAIN, Django's EmailBackend; the mail is stored before 250 and arrives at the sink DKIM-signed."""

import email
import os
import smtplib
from email.message import EmailMessage
from email.policy import default as default_policy

import dkim
import pytest

from accounts.audit import SYSTEM
from sending.models import Envelope, Message, MessageState
from tests.smtp.conftest import DEST, PASSWORD, client_tls

pytestmark = pytest.mark.django_db(transaction=True)


def message(sender: str = "noreply@mail.example.com", to: str = f"bob@{DEST}", **headers) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = "Hello from SMTP ✓"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Plain body\n")
    return mail


def test_starttls_and_auth_then_the_mail_arrives_dkim_signed(smtp):
    with smtp.client() as client:
        refused = client.send_message(message())
        assert refused == {}
    envelope = Envelope.objects.get()
    assert envelope.source == "smtp" and envelope.subject == "Hello from SMTP ✓"
    [received] = smtp.sink.messages
    assert received.rcpt_tos == [f"bob@{DEST}"]
    key = smtp.sender.domain.active_dkim_key()
    record = f"v=DKIM1; k=rsa; p={key.public_key}".encode()
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    assert str(parsed["Subject"]) == "Hello from SMTP ✓"
    assert "by " in parsed["Received"] and "(directmail) with ESMTPSA" in parsed["Received"]
    assert parsed["Message-ID"] and parsed["Date"]
    assert Message.objects.get().state == MessageState.DELIVERED


def test_the_data_reply_names_the_envelope(smtp):
    with smtp.client() as client:
        client.ehlo()
        client.mail("noreply@mail.example.com")
        client.rcpt(f"bob@{DEST}")
        code, reply = client.data(message().as_bytes())
    assert code == 250
    assert reply.decode().startswith("Data Ok: queued as ")
    env_id = reply.decode().split("###envid=")[1]
    assert Envelope.objects.get().env_id == env_id


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_auth_login_and_plain_over_implicit_tls(smtp, mechanism):
    with smtplib.SMTP_SSL("127.0.0.1", smtp.tls_port, context=client_tls(), timeout=10) as client:
        client.ehlo()
        client.user, client.password = "noreply@mail.example.com", PASSWORD
        method = client.auth_login if mechanism == "LOGIN" else client.auth_plain
        code, _reply = client.auth(mechanism, method, initial_response_ok=mechanism == "PLAIN")
        assert code == 235
        assert client.send_message(message()) == {}
    assert len(smtp.sink.messages) == 1


def test_django_email_backend(smtp, settings):
    from django.core.mail import get_connection, send_mail

    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host="127.0.0.1",
        port=smtp.tls_port,
        username="noreply@mail.example.com",
        password=PASSWORD,
        use_ssl=True,
        ssl_certfile=None,
        timeout=10,
    )
    connection.__dict__["ssl_context"] = client_tls()  # a cached property: trust the test certificate
    sent = send_mail(
        "From Django", "Body", "noreply@mail.example.com", [f"ann@{DEST}"], connection=connection
    )
    assert sent == 1
    [received] = smtp.sink.messages
    assert received.rcpt_tos == [f"ann@{DEST}"]


def test_the_sandbox_address_submits_over_smtp_and_its_mail_stays_in_the_outbox(smtp):
    """DELIVERY_MODE is mx here, with a receiving MX on loopback: sandbox mail must not reach it."""
    from sending.models import CapturedMessage
    from sending.services.sandbox import sandbox_sender
    from sending.services.senders import sender_address_set_smtp_password

    sandbox = sandbox_sender(smtp.account)
    sender_address_set_smtp_password(sender=sandbox, password=PASSWORD, actor=SYSTEM)
    client = smtplib.SMTP("127.0.0.1", smtp.port, timeout=10)
    with client:
        client.starttls(context=client_tls())
        client.login(sandbox.address, PASSWORD)
        assert client.send_message(message(sender=sandbox.address)) == {}
    assert smtp.sink.messages == []
    message_row = Message.objects.get()
    assert message_row.state == MessageState.DELIVERED
    assert CapturedMessage.objects.filter(message=message_row).exists()


def test_attachments_of_an_smtp_submission_arrive_as_sent(smtp):
    pdf = b"%PDF-1.4\n" + os.urandom(20_000)
    mail = message()
    mail.add_attachment(pdf, maintype="application", subtype="pdf", filename="报告.pdf")
    with smtp.client() as client:
        client.send_message(mail)
    [received] = smtp.sink.messages
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    [part] = parsed.iter_attachments()
    assert (part.get_filename(), part.get_content_type(), part.get_payload(decode=True)) == (
        "报告.pdf", "application/pdf", pdf,
    )  # fmt: skip
