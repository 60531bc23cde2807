"""What the SMTP server refuses, and that a refusal stores nothing: AUTH rules and limits, sending rules,
the open-relay matrix, SMTP smuggling, STARTTLS command injection, a database failure during DATA."""

import smtplib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts.access import ip_filter_add
from accounts.audit import SYSTEM
from accounts.models import LoginThrottle
from sending.models import Envelope, Message
from tests.smtp.conftest import DEST, PASSWORD, client_tls
from tests.smtp.rawclient import RawSession
from tests.smtp.test_submission import message

pytestmark = pytest.mark.django_db(transaction=True)

SENDER = "noreply@mail.example.com"


def test_auth_before_tls_is_refused(smtp):
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        client.ehlo()
        code, reply = client.docmd("AUTH", "PLAIN AG5vcmVwbHlAbWFpbC5leGFtcGxlLmNvbQB4")
    assert code == 538 and b"Encryption required" in reply


def test_a_wrong_password_and_too_many_failures(smtp):
    session = RawSession(smtp.port)
    session.starttls()
    assert session.login(password="wrong").startswith("535 5.7.8")
    assert session.login(password="wrong").startswith("535")
    third = session.login(password="wrong")
    assert third.startswith("535")
    assert session.reply().startswith("421 4.7.0")  # then the connection is closed
    assert session.reply() == "(closed)"
    with smtp.client() as client:  # the real password still works
        assert client.send_message(message()) == {}


def test_failures_from_one_address_do_not_lock_out_the_user_elsewhere(smtp):
    with override_settings(SMTPD_AUTH_FAILURES_PER_IP=2):
        for _attempt in range(2):
            failing = RawSession(smtp.port)
            failing.starttls()
            assert failing.login(password="wrong").startswith("535")
        session = RawSession(smtp.port)
        session.starttls()
        assert session.login().startswith("421")  # the right password, from the same address: not now
        other = RawSession(smtp.port, source="127.0.0.2")
        other.starttls()
        assert other.login().startswith("235")


def test_the_per_address_lockout_holds_its_window_and_under_concurrency(smtp):
    """60 parallel wrong logins from one address against a limit of 20: exactly 20 password checks (535),
    the rest refused unchecked (421); the count lasts SMTPD_AUTH_FAILURE_WINDOW, not a cache default."""

    def attempt(_n: int) -> str:
        session = RawSession(smtp.port)
        session.starttls()
        try:
            return session.login(password="wrong")[:3]
        finally:
            session.close()

    with override_settings(SMTPD_AUTH_FAILURES_PER_IP=20, SMTPD_AUTH_FAILURE_WINDOW=3600):
        with ThreadPoolExecutor(max_workers=30) as pool:
            replies = list(pool.map(attempt, range(60)))
        assert (replies.count("535"), replies.count("421")) == (20, 40)
        count = LoginThrottle.objects.get(scope="smtp-ip:127.0.0.1")
        assert count.attempts == 20
        assert count.window_ends_at - timezone.now() > timedelta(seconds=3500)
        session = RawSession(smtp.port)
        session.starttls()
        assert session.login().startswith("421")  # the right password too, until the window ends
        LoginThrottle.objects.update(window_ends_at=timezone.now())
        session = RawSession(smtp.port)
        session.starttls()
        assert session.login().startswith("235")


def test_a_blocked_ip_cannot_authenticate(smtp):
    ip_filter_add(account=smtp.account, network="203.0.113.0/24", actor=SYSTEM)
    with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
        smtp.client()
    assert b"IP protection" in caught.value.smtp_error


def test_mail_from_and_header_from_must_be_the_authenticated_address(smtp):
    with smtp.client() as client:
        code, reply = client.mail("other@mail.example.com")
        assert code == 553 and b"MAIL FROM doesn't conform with authentication" in reply
        client.rset()
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail(SENDER, [f"bob@{DEST}"], message(sender="boss@mail.example.com").as_bytes())
        assert caught.value.smtp_code == 553 and b"Header From" in caught.value.smtp_error
    assert not Envelope.objects.exists()


def test_at_most_100_recipients(smtp):
    with smtp.client() as client:
        client.ehlo()
        client.mail(SENDER)
        codes = [client.rcpt(f"r{n}@{DEST}")[0] for n in range(101)]
    assert codes[:100] == [250] * 100 and codes[100] == 452


def test_an_oversize_message_is_refused(smtp):
    with override_settings(SMTPD_MAX_MESSAGE_SIZE=10_000), smtp.client() as client:
        big = message()
        big.set_content("x" * 20_000)
        with pytest.raises(smtplib.SMTPException) as caught:
            client.sendmail(SENDER, [f"bob@{DEST}"], big.as_bytes())
    assert "552" in str(caught.value)
    assert not Envelope.objects.exists()


@pytest.mark.parametrize(
    "rcpt",
    [
        f"bob@{DEST}",
        f'"bob"@{DEST}',
        f"bob%{DEST}@mail.example.com",
        f"{DEST}!bob@mail.example.com",
        f"@mail.example.com:bob@{DEST}",
        "bob@[127.0.0.1]",
        "postmaster@mail.example.com",
        "bounce+forged.token@mail.example.com",
    ],
)
def test_no_relaying_without_auth(smtp, rcpt):
    session = RawSession(smtp.port)
    session.starttls()
    for mail_from in ("<>", f"<{SENDER}>"):
        session.command(f"MAIL FROM:{mail_from}")
        reply = session.command(f"RCPT TO:<{rcpt}>")
        assert reply[:1] == "5", (mail_from, rcpt, reply)
        session.command("RSET")


def test_address_literals_and_source_routes_are_refused_after_auth_too(smtp):
    with smtp.client() as client:
        client.ehlo()
        client.mail(SENDER)
        assert client.rcpt("bob@[127.0.0.1]")[0] == 550
        assert client.rcpt(f"@mail.example.com:bob@{DEST}")[0] in (501, 550, 553)


@pytest.mark.parametrize(
    "bad_end", [b"\n.\r\n", b"\r.\r\n", b"\n.\n"], ids=["lf-dot-crlf", "cr-dot-crlf", "lf-dot-lf"]
)
def test_smtp_smuggling_yields_one_message(smtp, bad_end):
    session = RawSession(smtp.port)
    session.starttls()
    assert session.login().startswith("235")
    assert session.command(f"MAIL FROM:<{SENDER}>").startswith("250")
    assert session.command(f"RCPT TO:<bob@{DEST}>").startswith("250")
    assert session.command("DATA").startswith("354")
    smuggled = (
        f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<eve@{DEST}>\r\nDATA\r\n"
        f"From: {SENDER}\r\nTo: eve@{DEST}\r\nSubject: smuggled\r\n\r\nforged\r\n.\r\n"
    ).encode()
    first = f"From: {SENDER}\r\nTo: bob@{DEST}\r\nSubject: one\r\n\r\nhello".encode()
    session.send(first + bad_end + smuggled)
    assert session.reply().startswith("250 Data Ok")
    assert session.command("QUIT").startswith("221")
    assert Envelope.objects.count() == 1
    assert list(Message.objects.values_list("rcpt", flat=True)) == [f"bob@{DEST}"]
    assert [m.rcpt_tos for m in smtp.sink.messages] == [[f"bob@{DEST}"]]


def test_commands_pipelined_after_starttls_are_discarded(smtp):
    session = RawSession(smtp.port)
    session.command("EHLO client.test")
    session.send(f"STARTTLS\r\nMAIL FROM:<{SENDER}>\r\n".encode())
    assert session.reply().startswith("220")
    session.sock = client_tls().wrap_socket(session.sock, server_hostname="localhost")
    session.command("EHLO client.test")
    assert session.login().startswith("235")
    # The injected MAIL FROM was thrown away with the plaintext buffer: RCPT has no transaction to join.
    assert session.command(f"RCPT TO:<bob@{DEST}>").startswith("503")


def test_a_database_failure_during_data_replies_451_and_stores_nothing(smtp):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE sending_messageevent RENAME TO sending_messageevent_away")
    try:
        with smtp.client() as client, pytest.raises(smtplib.SMTPDataError) as caught:
            client.send_message(message())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE sending_messageevent_away RENAME TO sending_messageevent")
    assert caught.value.smtp_code == 451 and caught.value.smtp_error.startswith(b"4.3.0")
    assert b"messageevent" not in caught.value.smtp_error
    assert not Envelope.objects.exists() and not Message.objects.exists()
    with smtp.client() as client:  # and the next try goes through
        assert client.send_message(message()) == {}
    assert Envelope.objects.count() == 1


def test_plaintext_auth_only_where_the_operator_allows_it(smtp):
    from sending.smtp.server import SmtpServer

    server = SmtpServer(host="127.0.0.1", starttls_ports=[0], tls_ports=[], plaintext_auth_ports=[0])
    with server.running(), smtplib.SMTP("127.0.0.1", server.bound["starttls"][0], timeout=10) as client:
        client.login(SENDER, PASSWORD)
        assert client.send_message(message()) == {}


def test_overlong_command_lines_are_refused(smtp):
    session = RawSession(smtp.port)
    session.command("EHLO client.test")
    assert session.command("NOOP " + "x" * 2000).startswith("500")
    assert session.command("NOOP").startswith("250")  # the session goes on
