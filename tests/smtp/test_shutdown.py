"""A graceful stop: no new connections, idle sessions closed with 421, a session in DATA finishes and its
message is stored; `manage.py smtpd` does the same on SIGTERM."""

import asyncio
import signal
import socket
import subprocess
import sys
import time

import pytest

from sending.models import Envelope
from tests.processes import MANAGE, manage, manage_env
from tests.smtp.conftest import DEST
from tests.smtp.rawclient import RawSession
from tests.smtpsink import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SENDER = "noreply@mail.example.com"


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def test_a_session_in_data_finishes_and_is_stored(smtp):
    busy = RawSession(smtp.port)
    busy.starttls()
    assert busy.login().startswith("235")
    busy.command(f"MAIL FROM:<{SENDER}>")
    busy.command(f"RCPT TO:<bob@{DEST}>")
    assert busy.command("DATA").startswith("354")
    busy.send(f"From: {SENDER}\r\nTo: bob@{DEST}\r\nSubject: last one\r\n\r\nhalf of it".encode())
    idle = RawSession(smtp.port)

    server, loop = smtp.server, smtp.server._servers[0].get_loop()
    stopping = asyncio.run_coroutine_threadsafe(server.stop(grace=20), loop)
    assert idle.reply().startswith("421")  # idle: told at once
    time.sleep(0.3)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", smtp.port), timeout=2).recv(10) or (_ for _ in ()).throw(
            OSError()
        )
    assert not stopping.done()  # still waiting for the session in DATA
    busy.send(b" and the rest\r\n.\r\n")
    assert busy.reply().startswith("250 Data Ok")
    assert busy.reply().startswith("421")
    stopping.result(20)
    assert Envelope.objects.get().subject == "last one"


def test_manage_smtpd_starts_and_stops_on_sigterm(tmp_path):
    assert manage(tmp_path, "migrate", "--noinput").returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, MANAGE, "smtpd"],
        env=manage_env(tmp_path, SMTPD_PORT=str(port), SMTPD_TLS_PORT=str(free_port())),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    greeting = sock.recv(1024).decode()
                break
            except OSError:
                time.sleep(0.2)
        assert greeting.startswith("220 ") and "directmail" in greeting
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, output
    assert f"STARTTLS [{port}]" in output and "smtpd stopped" in output
    assert (tmp_path / "smtpd-tls" / "cert.pem").exists()  # the development certificate
