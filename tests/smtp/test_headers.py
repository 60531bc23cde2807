"""Header injection through SMTP submissions: whatever a client writes, the delivered mail has one From (the
authenticated sender), no Bcc and no header nobody wrote, also after the tracking rewrite re-encodes the
message; control characters, obsolete `From :` lines and oversized header blocks are refused at DATA."""

import base64
import email
import json
import smtplib
from email.policy import default as default_policy

import pytest

from sending import tracking
from sending.delivery import mime
from sending.models import Envelope, Message
from tests.smtp.conftest import DEST

pytestmark = pytest.mark.django_db(transaction=True)

SENDER = "noreply@mail.example.com"
TRACE = base64.b64encode(json.dumps({"OpenTrace": "1", "LinkTrace": "1"}).encode()).decode()


def raw_message(*header_lines: str, html: str = '<p><a href="https://example.org/x">x</a></p>') -> bytes:
    lines = [f"From: {SENDER}", f"To: bob@{DEST}", *header_lines, "MIME-Version: 1.0",
             "Content-Type: text/html; charset=utf-8", "", html, ""]  # fmt: skip
    return "\r\n".join(lines).encode()


def submit(smtp, data: bytes) -> tuple[int, bytes]:
    with smtp.client() as client:
        client.mail(SENDER)
        client.rcpt(f"bob@{DEST}")
        return client.data(data)


INJECTED_SUBJECT = "=?utf-8?q?Hi=0D=0AFrom:_ceo=40other-tenant.test=0D=0ABcc:_x=40evil.test?="


@pytest.mark.parametrize(
    "subject",
    [INJECTED_SUBJECT, "A long subject that the email package would fold again " * 3 + INJECTED_SUBJECT],
    ids=["short", "refolded"],
)
def test_an_encoded_line_break_in_the_subject_is_refused_with_tracking_on(smtp, subject):
    code, reply = submit(smtp, raw_message(f"Subject: {subject}", f"X-AliDM-Trace: {TRACE}"))
    assert code == 554 and b"5.6.0" in reply and b"Subject" in reply
    assert not Envelope.objects.exists() and smtp.sink.messages == []


def test_the_tracking_rewrite_keeps_the_header_block_as_it_came(smtp):
    """The last line of defence, if such a message were ever stored: the rewrite writes the client's
    headers back byte for byte (Python 3.11.7's email package re-folds them into real lines)."""
    raw = raw_message("Subject: " + "Long words to fold " * 6 + INJECTED_SUBJECT)
    code, _reply = submit(smtp, raw_message("Subject: fine", f"X-AliDM-Trace: {TRACE}"))
    assert code == 250
    message = Message.objects.get()
    tracked = mime.track_raw(raw, message, click=True, pixel=True)
    head, tracked_head = raw.partition(b"\r\n\r\n")[0], tracked.partition(b"\r\n\r\n")[0]
    own_lines = head.split(b"\r\nMIME-Version")[0]
    assert tracked_head.startswith(own_lines + b"\r\n")
    parsed = email.message_from_bytes(tracked, policy=default_policy)
    assert parsed.get_all("From") == [SENDER] and parsed["Bcc"] is None
    assert tracking.click_url(message, "https://example.org/x") in parsed.get_body(("html",)).get_content()


def test_a_tracked_submission_is_delivered_with_its_own_headers_only(smtp):
    code, _reply = submit(smtp, raw_message("Subject: =?utf-8?q?caf=C3=A9?=", f"X-AliDM-Trace: {TRACE}"))
    assert code == 250
    [received] = smtp.sink.messages
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    assert parsed.get_all("From") == [SENDER] and str(parsed["Subject"]) == "café"
    assert parsed["Bcc"] is None and parsed["X-AliDM-Trace"] is None


@pytest.mark.parametrize(
    "lines",
    [
        ["From : ceo@other-tenant.test"],  # obsolete syntax: our signer would read it as From
        ["Subject: x", "From : ceo@other-tenant.test"],
        ["Subject :hello"],
        ["no colon at all"],
    ],
    ids=["from", "second-from", "subject", "garbage"],
)
def test_obsolete_or_malformed_header_lines_are_refused(smtp, lines):
    code, reply = submit(smtp, raw_message(*lines))
    assert code == 554 and b"malformed header line" in reply
    assert not Envelope.objects.exists()


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x07", "\x0b", "\x0c", "\x1c"])
def test_control_characters_in_headers_are_refused(smtp, char):
    code, reply = submit(smtp, raw_message(f"Subject: hi{char}there", f"X-User-Ref: ok{char}"))
    assert code == 554 and b"control character" in reply
    encoded = base64.b64encode(f"hi{char}".encode()).decode()
    code, reply = submit(smtp, raw_message(f"Subject: =?utf-8?b?{encoded}?="))
    assert code == 554 and b"control character" in reply
    assert not Envelope.objects.exists()


def test_oversized_header_blocks_and_duplicates_are_refused(smtp):
    folded = "X-User-Big: " + "\r\n ".join(["y" * 900] * 130)  # 117 KB of folded lines
    code, reply = submit(smtp, raw_message(folded))
    assert code == 554 and b"header block is over 100 KB" in reply
    code, reply = submit(smtp, raw_message("X-User-Long: " + "z" * 1200))
    assert code == 500 and b"Line too long" in reply  # aiosmtpd refuses it before the message is read
    code, reply = submit(smtp, raw_message("Message-ID: <a@x.test>", "Message-ID: <b@x.test>"))
    assert code == 554 and b"message-id appears 2 times" in reply
    assert not Envelope.objects.exists()
    with pytest.raises(smtplib.SMTPDataError), smtp.client() as client:
        client.sendmail(SENDER, [f"bob@{DEST}"], raw_message("Subject: a", "Subject: b"))
