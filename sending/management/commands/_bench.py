"""What the benchmarks share (Django lists no command here: the module name starts with _)."""

import json
import multiprocessing
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.models import Domain, DomainStatus, SenderAddress
from sending.services.domains import domain_create
from sending.services.senders import sender_address_create


def bench_sender(email: str, domain_name: str) -> SenderAddress:
    """A new account without practical quotas and a trigger sender on a domain marked verified."""
    _user, account, _created = user_signup(email=email, password=None, account_name=email, actor=SYSTEM)
    account.daily_quota = account.monthly_quota = 10**9
    account.save()
    domain = domain_create(account=account, name=domain_name, actor=SYSTEM)
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)
    domain.refresh_from_db()
    return sender_address_create(
        account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise CommandError(f"{what} did not start")


def run_clients(count: int, client) -> float:
    """Run `client(number)` in `count` threads at once; the seconds until the last one is done."""
    threads = [threading.Thread(target=client, args=(number,)) for number in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def smtp_baseline(sink, sender_address: str, html: str, count: int) -> float:
    """Messages/s of a plain smtplib client pushing `count` pre-built messages over one connection."""
    head = f"From: {sender_address}\r\nTo: rcpt@dest.example\r\nSubject: x\r\n\r\n".encode()
    raw = head + html.replace("\n", "\r\n").encode()
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        for n in range(count):
            smtp.sendmail(sender_address, [f"rcpt{n}@dest.example"], raw)
    rate = count / (time.monotonic() - started)
    sink.messages.clear()
    return rate


def bare_pipeline(sink) -> float:
    """Messages/s of the worker's own steps for the delivered messages (sending.delivery.worker.render:
    personalizing, MIME, DKIM; then SMTP to the sink, one connection per process) in as many forked
    processes as the cluster has workers, with no database and no queue: what the engine could do if
    claiming, recording and the broker cost nothing. The messages, their envelopes, senders, domains and
    accounts and the DKIM keys are loaded before the clock starts."""
    from sending.delivery.worker import _BatchCache, render, return_path
    from sending.models import Message, MessageState

    messages = list(
        Message.objects.filter(state=MessageState.DELIVERED).select_related(
            "envelope__sender__domain", "account"
        )
    )
    processes = workers()
    port = sink.port
    sink.messages.clear()
    cache = _BatchCache()
    for message in messages:
        cache.key(message.envelope.sender.domain)

    def work(chunk: list) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for message in chunk:
                smtp.sendmail(return_path(message), [message.rcpt], render(message, cache))

    context = multiprocessing.get_context("fork")  # the children inherit the loaded objects
    children = [context.Process(target=work, args=(messages[n::processes],)) for n in range(processes)]
    started = time.perf_counter()
    for child in children:
        child.start()
    for child in children:
        child.join()
    elapsed = time.perf_counter() - started
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if failed:
        raise CommandError(f"the bare pipeline's processes failed: exit codes {failed}")
    return len(messages) / elapsed


def workers() -> int:
    """The worker processes a cluster runs (Q_WORKERS)."""
    return int(settings.Q_CLUSTER["workers"])


@contextmanager
def relay_cluster(sink):
    """Real django-q2 workers (`manage.py qcluster`) delivering through the relay transport to the sink,
    with the destination's limits out of the way; stopped (SIGTERM, then SIGKILL) on leaving."""
    env = {
        **os.environ,
        "DELIVERY_MODE": "relay",
        "SMTP_RELAY_URL": f"smtp://127.0.0.1:{sink.port}",
        "DELIVERY_DOMAIN_LIMITS": '{"dest.example": {"connections": 8, "per_second": 100000}}',
        "DELIVERY_ACCOUNT_PER_SECOND": "0",
        "DATA_DIR": str(settings.DATA_DIR),
    }
    cluster = subprocess.Popen(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "qcluster"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield cluster
    finally:
        cluster.send_signal(signal.SIGTERM)  # the cluster's parent stops its workers itself
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)


# -- the summary table of `make bench` (bench_summary): each benchmark records its figures here


@dataclass(frozen=True)
class Target:
    """What a figure should reach on the 2-core machine (issue 29): `ratio` is value / baseline >= at
    least; `max` is value <= at most; None: shown without a target."""

    name: str
    kind: str | None = None
    threshold: float = 0.0


TARGETS = {
    "delivery": Target("delivery end to end", "ratio", 0.75),
    "dkim": Target("DKIM per message", "max", 0.8),
    "batch": Target("batch send end to end", "ratio", 0.75),
    "api": Target("SingleSendMail", "ratio", 0.6),
    "api_p99": Target("SingleSendMail p99", "max", 100),
    "smtp": Target("SMTP submission", "ratio", 0.35),
    "import": Target("import of 100,000 rows", "ratio", 0.5),
    "import_memory": Target("import peak memory", "max", 200),
    "stats_p95": Target("dashboard and statistics API p95", "max", 50),
    "stats_fresh": Target("an event on the dashboard", "max", 5),
    "validation": Target("address validation, no probes"),
}


def record(
    key: str, value: float, unit: str, *, baseline: float | None = None, baseline_name: str = ""
) -> None:
    """Add a figure to the run's results (BENCH_RESULTS, a JSON-lines file; nothing when unset)."""
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    from django.db import connection

    row = {"key": key, "value": value, "unit": unit, "baseline": baseline, "baseline_name": baseline_name,
           "database": "PostgreSQL + Redis" if connection.vendor == "postgresql" else "SQLite"}  # fmt: skip
    with open(path, "a", encoding="utf-8") as results:
        results.write(json.dumps(row) + "\n")
