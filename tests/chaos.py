"""`make chaos`: faults injected into a running layout under load, and a table of what came of them.

A fresh installation in a temporary folder (SQLite, the embedded default; PostgreSQL with CHAOS_DATABASE_URL,
reached through a switch so that it can be cut off) runs a web process, a django-q2 cluster and smtpd, and
relays its mail to a recording SMTP sink on loopback. API clients (the official SDK) and SMTP clients send
all the time. Each fault is injected for a while, then lifted; then the queue is drained and counted:

    fault | accepted | delivered | duplicates | lost | what clients saw | recovery

`recovery` is the time from the end of the fault to the first delivery after it. Everything runs on
loopback and stops by itself. Run it as `make chaos` (or `python -m tests.chaos`).
"""

import atexit
import collections
import contextlib
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="directmail-chaos-"))
os.environ.update(DJANGO_SETTINGS_MODULE="tests.settings", DATA_DIR=str(WORK), Q_SYNC="false",
                  DELIVERY_ALLOW_PRIVATE="true")  # fmt: skip
os.environ.pop("REDIS_URL", None)
DISK = WORK / "disk"  # SQLite's own small filesystem, to fill (where a tmpfs can be mounted: as root)
if os.environ.get("CHAOS_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["CHAOS_DATABASE_URL"]
    DISK = None
else:
    DISK.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", str(DISK)]
    if subprocess.run(mount, capture_output=True, check=False).returncode == 0:
        atexit.register(subprocess.run, ["umount", "-l", str(DISK)], check=False)
        os.environ["DATABASE_URL"] = f"sqlite:///{DISK / 'db.sqlite3'}"
    else:
        DISK = None
        os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from alibabacloud_dm20151123 import models as dm  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.access import access_key_create  # noqa: E402
from accounts.audit import SYSTEM  # noqa: E402
from sending.models import Envelope, Message, MessageState  # noqa: E402
from tests.api.clients import tea_client  # noqa: E402
from tests.faults import OwnRedis, TcpSwitch, fill  # noqa: E402
from tests.processes import MANAGE, child_env, database_url, through  # noqa: E402
from tests.sending.helpers import smtp_sender  # noqa: E402
from tests.smtpsink import SmtpSink, free_port  # noqa: E402

SENDER, PASSWORD = "noreply@mail.example.com", "chaos-Password-2026"
FAULT_SECONDS = float(os.environ.get("CHAOS_FAULT_SECONDS", "20"))
RATE = float(os.environ.get("CHAOS_RATE", "10"))  # messages a second from each of the two clients
DRAIN_SECONDS = float(os.environ.get("CHAOS_DRAIN_SECONDS", "120"))  # for the queue to empty after a fault
ONLY = os.environ.get("CHAOS_ONLY", "")  # run only the faults whose name contains this (e.g. "Redis")


class Layout:
    """web, worker and smtpd as child processes of this one, relaying to `sink`."""

    def __init__(self, sink: SmtpSink, database: str, redis: str = ""):
        self.sink, self.database, self.redis = sink, database, redis
        self.web_port, self.smtp_port = free_port(), free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    def env(self) -> dict[str, str]:
        return child_env(
            self.database, DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{self.sink.port}",
            SMTP_TIMEOUT="10", DELIVERY_RETRY_FIRST="5", DELIVERY_RETRY_MAX="10", DELIVERY_LEASE="60",
            DELIVERY_SESSION_ALIVE="10", Q_SYNC="false", Q_WORKERS="2", Q_RETRY="40", Q_TIMEOUT="35",
            SMTPD_PORT=str(self.smtp_port), SMTPD_TLS_PORT="", SMTPD_PLAINTEXT_AUTH_PORTS=str(self.smtp_port),
            DELIVERY_ALLOW_PRIVATE="true",
            DELIVERY_DOMAIN_LIMITS='{"*": {"connections": 4, "per_second": 100}}',
            **({"REDIS_URL": self.redis} if self.redis else {}),
        )  # fmt: skip

    def start(self, name: str) -> None:
        argv = {
            "web": ["runserver", "--noreload", f"127.0.0.1:{self.web_port}"],
            "worker": ["qcluster"],
            "smtpd": ["smtpd"],
            "runall": ["runall", "--addrport", f"127.0.0.1:{self.web_port}"],  # the three, as `make run`
        }[name]
        with open(WORK / f"{name}.log", "ab") as log:  # kept, for a fault that needs explaining
            self.processes[name] = subprocess.Popen(
                [sys.executable, MANAGE, *argv],
                env=self.env(),
                start_new_session=True,  # its own process group: a kill takes its children too
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, name: str) -> None:
        """SIGKILL the process and every process it started (a cluster's workers), as a crash of the host's
        service would (systemd kills the whole control group)."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def kill_runall(self) -> None:
        """`kill -9` of runall alone: the kernel must stop its children (their parent-death signal)."""
        os.kill(self.processes["runall"].pid, signal.SIGKILL)
        self.processes.pop("runall").wait(10)

    def restart_runall(self) -> None:
        """Start runall again as soon as its children let go of the ports (it refuses a port in use)."""
        _wait(lambda: not _answers(self.web_port) and not _answers(self.smtp_port), 30)
        self.start("runall")
        _wait(lambda: _answers(self.web_port) and _answers(self.smtp_port), 60)

    def stop(self) -> None:
        for name in list(self.processes):
            with contextlib.suppress(Exception):
                self.kill(name)


class MidData:
    """An SMTP client of the fault's own that is in the middle of DATA when smtpd is killed: what it sent
    must not be stored (it was never acknowledged)."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def inject(self) -> None:
        client = smtplib.SMTP("127.0.0.1", self.layout.smtp_port, timeout=15)
        client.login(SENDER, PASSWORD)
        client.mail(SENDER)
        client.rcpt("middata@dest.test")
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(
            f"From: {SENDER}\r\nTo: middata@dest.test\r\nSubject: half\r\n\r\nthe first half".encode()
        )
        time.sleep(0.5)
        self.layout.kill("smtpd")
        client.close()

    def lift(self) -> None:
        self.layout.start("smtpd")


class Load:
    """API and SMTP clients sending without pause; what they were told, and the EnvIds accepted."""

    def __init__(self, api: dict, smtp_port: int):
        self.api, self.smtp_port = api, smtp_port
        self.seen: collections.Counter = collections.Counter()
        self.accepted: list[str] = []
        self.running = threading.Event()
        self.lock = threading.Lock()

    def _note(self, what: str, env_id: str = "") -> None:
        with self.lock:
            self.seen[what] += 1
            if env_id:
                self.accepted.append(env_id)

    def _api(self) -> None:
        client = tea_client(self.api)
        n = 0
        while self.running.is_set():
            n += 1
            time.sleep(1 / RATE)
            try:
                body = client.single_send_mail(
                    dm.SingleSendMailRequest(
                        account_name=SENDER, address_type=1, reply_to_address=False,
                        to_address=f"a{n}@dest.test", subject="chaos", text_body="x",
                    )
                ).body  # fmt: skip
                self._note("API 200", body.env_id)
            except Exception as exc:
                self._note(f"API {getattr(exc, 'statusCode', '')} {getattr(exc, 'code', type(exc).__name__)}")
                time.sleep(0.2)

    def _smtp(self) -> None:
        n = 0
        while self.running.is_set():
            n += 1
            time.sleep(1 / RATE)
            try:
                with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=15) as client:
                    client.login(SENDER, PASSWORD)
                    mail = f"From: {SENDER}\r\nTo: s{n}@dest.test\r\nSubject: chaos\r\n\r\nx\r\n"
                    client.mail(SENDER)
                    client.rcpt(f"s{n}@dest.test")
                    code, reply = client.data(mail.encode())
                if code == 250:
                    self._note("SMTP 250", reply.decode().rsplit("###envid=", 1)[-1])
                else:
                    self._note(f"SMTP {code}")
            except smtplib.SMTPResponseException as exc:
                self._note(f"SMTP {exc.smtp_code}")
                time.sleep(0.2)
            except (OSError, smtplib.SMTPException) as exc:
                self._note(f"SMTP {type(exc).__name__}")
                time.sleep(0.2)

    def __enter__(self) -> "Load":
        self.running.set()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._api, self._smtp)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.running.clear()
        for thread in self.threads:
            thread.join(30)


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def run_fault(name: str, layout: Layout, api: dict, inject, lift) -> dict:
    sink = layout.sink
    already = len(sink.messages)
    with Load(api, layout.smtp_port) as load:
        time.sleep(3)
        inject()
        time.sleep(FAULT_SECONDS)
        lift()
        ended = time.monotonic()
        time.sleep(10)
    env_ids = set(load.accepted)
    messages = Message.objects.filter(envelope__env_id__in=env_ids)
    final = [MessageState.DELIVERED, MessageState.FAILED, MessageState.INVALID]
    _wait(lambda: not messages.exclude(state__in=final).exists(), DRAIN_SECONDS)
    ids = dict(messages.values_list("message_id", "state"))
    copies: collections.Counter = collections.Counter()
    for received in sink.messages[already:]:
        header = received.data.split(b"Message-ID: <", 1)[-1].split(b">", 1)[0].decode(errors="replace")
        copies[header] += 1
    after = [r.at for r in sink.messages[already:] if r.at >= ended]
    known = set(Envelope.objects.filter(env_id__in=env_ids).values_list("env_id", flat=True))
    return {
        "fault": name,
        "accepted": len(env_ids),
        "delivered": sum(1 for m in ids if copies.get(m)),
        "waiting": sum(1 for m, state in ids.items() if not copies.get(m) and state not in final),
        "duplicates": sum(n - 1 for m, n in copies.items() if m in ids and n > 1),
        "lost": len(env_ids - known),
        "clients saw": ", ".join(f"{what} x{n}" for what, n in sorted(load.seen.items())),
        "recovery": f"{min(after) - ended:.1f} s" if after else "none",
    }


def main() -> int:
    call_command("migrate", verbosity=0)
    account = smtp_sender("chaos@example.com", PASSWORD).account
    account.daily_quota = account.monthly_quota = 10**7
    account.save()
    key, secret = access_key_create(account=account, actor=SYSTEM)
    postgres = connection.vendor == "postgresql"
    rows = []
    with SmtpSink() as sink, contextlib.ExitStack() as stack:
        switch = (
            stack.enter_context(TcpSwitch(connection.settings_dict["PORT"] or 5432)) if postgres else None
        )
        redis = stack.enter_context(OwnRedis()) if postgres and OwnRedis.available() else None
        layout = Layout(sink, through(switch.port) if switch else database_url(), redis.url if redis else "")
        stack.callback(layout.stop)
        for name in ("web", "worker", "smtpd"):
            layout.start(name)
        api = {"key": key, "secret": secret, "endpoint": f"127.0.0.1:{layout.web_port}"}
        _wait(lambda: _answers(layout.web_port) and _answers(layout.smtp_port), 60)
        mid_data = MidData(layout)
        faults = [
            ("worker SIGKILLed, restarted", lambda: layout.kill("worker"), lambda: layout.start("worker")),
            ("smtpd SIGKILLed mid-DATA, restarted", mid_data.inject, mid_data.lift),
            ("receiver answers 451", lambda: setattr(sink.handler, "refuse_all", "451 4.3.0 busy"),
             lambda: setattr(sink.handler, "refuse_all", "")),
            ("receiver hangs after DATA", lambda: setattr(sink.handler, "reply_delay", 15.0),
             lambda: setattr(sink.handler, "reply_delay", 0.0)),
        ]  # fmt: skip
        if switch is not None:
            faults.append(("PostgreSQL unreachable", switch.down, switch.up))
        if redis is not None:
            faults.append(("Redis killed, back empty", redis.stop, redis.start))
        if DISK is not None:
            filler: list[Path] = []
            faults.append(
                ("SQLite's disk full", lambda: filler.append(fill(DISK)), lambda: filler.pop().unlink())
            )
        # Last: the three as one `runall` (`make run`), killed with kill -9 and started again.
        faults.append(("runall kill -9, restarted", layout.kill_runall, layout.restart_runall))
        for name, inject, lift in faults:
            if ONLY.lower() not in name.lower():
                continue
            if name.startswith("runall"):
                layout.stop()
                layout.start("runall")
                _wait(lambda: _answers(layout.web_port) and _answers(layout.smtp_port), 60)
            print(f"-- {name} ({FAULT_SECONDS:.0f} s)", flush=True)
            rows.append(run_fault(name, layout, api, inject, lift))
            _wait(lambda: _answers(layout.smtp_port), 30)
    print()
    print(
        f"directmail chaos on {'PostgreSQL' if postgres else 'SQLite'}, {Envelope.objects.count()} envelopes"
        f" (the processes' logs are in {WORK})"
    )
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-+-".join("-" * widths[c] for c in columns))
    for row in rows:
        print(" | ".join(str(row[c]).ljust(widths[c]) for c in columns))
    half = Message.objects.filter(rcpt="middata@dest.test").count()
    if half:
        print(f"the message cut off mid-DATA was stored {half} time(s); it must not be")
    return 1 if half or any(row["lost"] or row["waiting"] for row in rows) else 0


def _answers(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
