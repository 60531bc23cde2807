"""What SMTP clients are told while the database or the cache is gone, for real: `manage.py smtpd` in a child
process reaches PostgreSQL through a switch the test turns off, and a Redis of the test's own that it kills.

Every failure of ours is one line of `451 4.3.0` (never aiosmtpd's 500 with the exception's text, whose line
breaks desynchronize the client), a message stored is acknowledged with 250 whatever fails after the commit,
and the next message goes through within seconds of the fault ending.
"""

import subprocess
import sys
import time

import pytest
from django.db import connection

from sending.models import Envelope, Message, MessageState
from tests.faults import OwnRedis, TcpSwitch
from tests.processes import MANAGE, child_env, database_url, through
from tests.sending.helpers import smtp_sender
from tests.smtp.conftest import PASSWORD
from tests.smtp.rawclient import RawSession
from tests.smtpsink import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SENDER = "noreply@mail.example.com"
TEMPORARY = "451 4.3.0 Temporary failure, please try again later"
MAIL = f"From: {SENDER}\r\nTo: bob@dest.test\r\nSubject: outage\r\n\r\nhello\r\n.".encode()


@pytest.fixture
def sender(db):
    return smtp_sender("o@example.com", PASSWORD)


def start_smtpd(database: str, **extra: str) -> tuple[subprocess.Popen, int]:
    """`manage.py smtpd` on the test database (AUTH allowed without TLS on its port), delivering into the
    Outbox inline (Q_SYNC) so that "delivered" is visible at once."""
    port = free_port()
    settings = {"SMTPD_PORT": str(port), "SMTPD_TLS_PORT": "", "SMTPD_PLAINTEXT_AUTH_PORTS": str(port),
                "DELIVERY_MODE": "capture", "Q_SYNC": "true"}  # fmt: skip
    env = child_env(database, **{**settings, **extra})
    server = subprocess.Popen([sys.executable, MANAGE, "smtpd"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            RawSession(port).close()
            return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("smtpd did not start")


def session(port: int) -> RawSession:
    raw = RawSession(port)
    raw.command("EHLO client.test")
    return raw


def submit(port: int) -> str:
    """A whole submission; the reply to DATA's end (or the first refusal)."""
    raw = session(port)
    try:
        for line in (
            raw.login(),
            raw.command(f"MAIL FROM:<{SENDER}>"),
            raw.command("RCPT TO:<bob@dest.test>"),
        ):
            if not line.startswith(("235", "250")):
                return line
        if not (reply := raw.command("DATA")).startswith("354"):
            return reply
        raw.send(MAIL + b"\r\n")
        return raw.reply()
    finally:
        raw.close()


def delivered_within(seconds: float, port: int) -> float:
    """Submit until one is accepted and delivered; how long it took (fails past `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        reply = submit(port)
        if reply.startswith("250"):
            env_id = reply.rsplit("###envid=", 1)[1]
            if Message.objects.filter(envelope__env_id=env_id, state=MessageState.DELIVERED).exists():
                return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"nothing was delivered within {seconds} s of the fault ending")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stops PostgreSQL (the test runs on it)")
def test_postgresql_gone_is_a_one_line_451_everywhere_and_recovery_takes_seconds(sender):
    with TcpSwitch(connection.settings_dict["PORT"] or 5432) as pg:
        server, port = start_smtpd(through(pg.port))
        try:
            assert submit(port).startswith("250 Data Ok")
            ready = session(port)  # logged in before the outage: RCPT and DATA meet it
            assert ready.login().startswith("235")
            assert ready.command(f"MAIL FROM:<{SENDER}>").startswith("250")
            pg.down()
            assert ready.command("RCPT TO:<bob@dest.test>") == TEMPORARY  # one line, nothing of the cause
            assert ready.command("RSET").startswith("250")  # and the next reply is the next command's
            assert session(port).login() == TEMPORARY
            assert submit(port) == TEMPORARY
            pg.up()
            delivered_within(30, port)
        finally:
            server.kill()
            server.wait(10)
    assert Envelope.objects.count() == 2  # the one before and the one after: nothing stored twice


@pytest.mark.skipif(not OwnRedis.available(), reason="needs redis-server")
def test_redis_gone_still_acknowledges_what_was_stored(sender):
    """The cache and the broker down: the message is stored, so the client hears 250 (a 451 would make it
    send again, and the message would go out twice); it is delivered once the schedule runs."""
    with OwnRedis() as redis:
        server, port = start_smtpd(database_url(), REDIS_URL=redis.url, Q_SYNC="false")
        try:
            assert submit(port).startswith("250 Data Ok")
            redis.stop()
            replies = [submit(port) for _ in range(3)]
            assert all(reply.startswith("250 Data Ok") for reply in replies), replies
            redis.start()
            assert submit(port).startswith("250 Data Ok")
        finally:
            server.kill()
            server.wait(10)
    assert Envelope.objects.count() == 5
    assert Message.objects.filter(state=MessageState.QUEUED).count() == 5  # waiting for a worker, not lost
