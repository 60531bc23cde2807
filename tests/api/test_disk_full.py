"""The embedded default's disk fills up: a web process whose SQLite database lives on a small filesystem of
the test's own answers DirectMail's JSON 503 (never Django's HTML page) while nothing can be written, and
takes mail again as soon as there is room. Needs root (it mounts a tmpfs)."""

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.api.clients import post_form, signed_single_send
from tests.faults import fill
from tests.processes import MANAGE, child_env
from tests.smtpsink import free_port

SENDER = "noreply@mail.example.com"

SETUP = """
from accounts.access import access_key_create
from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.services.senders import sender_address_create
from tests.sending.helpers import verified_domain
_u, account, _c = user_signup(email="disk@example.com", password=None, account_name="Disk", actor=SYSTEM)
domain = verified_domain(account, "mail.example.com")
sender_address_create(account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM)
key, secret = access_key_create(account=account, actor=SYSTEM)
print(key.key_id, secret)
"""


def test_a_full_disk_is_a_json_503_and_mail_flows_again_when_there_is_room(small_disk: Path):
    database = f"sqlite:///{small_disk / 'db.sqlite3'}"
    env = child_env(database, DATA_DIR=str(small_disk), DELIVERY_MODE="capture", Q_SYNC="true")
    run = {"env": env, "capture_output": True, "text": True, "timeout": 300, "check": False}
    assert subprocess.run([sys.executable, MANAGE, "migrate", "--noinput"], **run).returncode == 0
    made = subprocess.run([sys.executable, MANAGE, "shell", "--no-imports", "-c", SETUP], **run)
    key_id, secret = made.stdout.split()[-2:]
    port = free_port()
    web = subprocess.Popen([sys.executable, MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)

        def send() -> dict:
            import http.client

            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                return post_form(
                    conn, signed_single_send(key_id, secret, "noreply@mail.example.com", "a@example.org")
                )
            finally:
                conn.close()

        assert send()["status"] == 200
        filler = fill(small_disk)
        answers = [send() for _ in range(3)]
        for answer in answers:
            assert (answer["status"], answer["Code"]) == (503, "ServiceUnavailable"), answer
        filler.unlink()
        assert send()["status"] == 200
    finally:
        web.kill()
        web.wait(10)
    counted = subprocess.run(
        [sys.executable, MANAGE, "shell", "--no-imports", "-c",
         "from sending.models import Envelope; print(Envelope.objects.count())"], **run,
    )  # fmt: skip
    assert counted.stdout.split()[-1] == "2"  # the refused calls stored nothing
