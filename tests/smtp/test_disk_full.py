"""The embedded default's disk fills up under smtpd and under a delivery worker, for real: their SQLite
database lives on a small filesystem of the test's own that the test fills.

smtpd answers a one-line `451 4.3.0` while nothing can be written and stores nothing; a worker whose
receiver took a message while the disk was full keeps the result and writes it once there is room, instead
of sending the message again after its lease. Needs root (it mounts a tmpfs)."""

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.faults import fill
from tests.processes import MANAGE, child_env, start_group, stop_group
from tests.smtp.conftest import PASSWORD
from tests.smtp.rawclient import RawSession
from tests.smtp.test_outages import TEMPORARY, submit
from tests.smtpsink import SmtpSink, free_port

SETUP = f"""
from tests.sending.helpers import smtp_sender
smtp_sender("disk@example.com", {PASSWORD!r})
"""
RUN_DELIVERY = "from sending.delivery.worker import deliver_due; deliver_due(max_seconds=10)"
STATES = """
from sending.models import Envelope, Message
print(Envelope.objects.count(), *Message.objects.order_by("pk").values_list("state", flat=True))
"""


class Layout:
    """A fresh embedded install on `disk`: migrated, an SMTP sender, and the processes a test starts."""

    def __init__(self, disk: Path, **extra: str):
        self.env = child_env(f"sqlite:///{disk / 'db.sqlite3'}", DATA_DIR=str(disk), **extra)
        self.children: list[subprocess.Popen] = []
        self.manage("migrate", "--noinput")
        self.manage("shell", "--no-imports", "-c", SETUP)

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, MANAGE, *args], env=self.env, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def states(self) -> list[str]:
        return self.manage("shell", "--no-imports", "-c", STATES).split()

    def start(self, *args: str, **extra: str) -> None:
        self.children.append(start_group([sys.executable, MANAGE, *args], {**self.env, **extra}))

    def smtpd(self) -> int:
        port = free_port()
        self.start("smtpd", SMTPD_PORT=str(port), SMTPD_TLS_PORT="", SMTPD_PLAINTEXT_AUTH_PORTS=str(port))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                RawSession(port).close()
                return port
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("smtpd did not start")

    def stop(self) -> None:
        for child in self.children:
            stop_group(child, grace=5)


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_smtpd_on_a_full_disk_answers_a_one_line_451_and_takes_mail_again_when_there_is_room(small_disk):
    layout = Layout(small_disk, DELIVERY_MODE="capture", Q_SYNC="true")
    try:
        port = layout.smtpd()
        assert submit(port).startswith("250 Data Ok")
        filler = fill(small_disk)
        replies = [submit(port) for _ in range(3)]
        assert replies == [TEMPORARY] * 3
        filler.unlink()
        assert submit(port).startswith("250 Data Ok")
    finally:
        layout.stop()
    count, *states = layout.states()
    assert count == "2" and states == ["delivered", "delivered"]  # the refused submissions stored nothing


def test_a_result_the_disk_could_not_take_is_written_later_and_the_mail_is_not_sent_again(small_disk):
    """The receiver takes the message slowly; the disk fills meanwhile, so its 250 cannot be recorded. Once
    there is room the worker records it, and nothing is sent again, not even after the lease."""
    with SmtpSink() as sink:
        sink.handler.reply_delay = 3
        layout = Layout(small_disk, DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}",
                        DELIVERY_LEASE="12", Q_SYNC="false")  # fmt: skip
        try:
            port = layout.smtpd()
            layout.start("qcluster", Q_WORKERS="1")
            assert submit(port).startswith("250 Data Ok")
            assert sink.handler.stored.wait(30)  # the receiver has the message and answers in 3 s
            stored = time.monotonic()
            with contextlib.closing(sqlite3.connect(small_disk / "db.sqlite3", timeout=10)) as db:
                # An emptied write-ahead log must grow for the next write (one with room to spare would
                # take small writes on a full disk).
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            filler = fill(small_disk)
            time.sleep(5)  # it answered 250 two seconds ago; the worker could not record that
            filler.unlink()
            wait_for(lambda: layout.states()[1:] == ["delivered"], 60)
            # Past the lease, a delivery run sends again whatever kept no result: here, nothing.
            time.sleep(max(0.0, 13 - (time.monotonic() - stored)))
            layout.manage("shell", "--no-imports", "-c", RUN_DELIVERY)
        finally:
            layout.stop()
    assert len(sink.messages) == 1
