"""Scale-out on PostgreSQL + Redis: 3 worker processes, 2 smtpd processes (sharing a port) and 2 web
processes (gunicorn) on one database and the Redis broker, as docs/deploy.md lays them out.

Part one: SCALE_OUT_MESSAGES (20,000) messages submitted at once through the API (both web processes) and
SMTP; every one reaches the receiving server exactly once (counted by Message-ID), no lease is lost or
taken twice, the quota counter and the statistics equal the message log, and a nonce or idempotency key
used at one web process is known to the other, and so is the rate limit's count. Part two: one worker and
one smtpd are SIGKILLed in the middle of more traffic; every message a client was told was accepted still
arrives.

In the suite when PostgreSQL and Redis run (CI's PostgreSQL pass); skipped on SQLite.
"""

import email.parser
import http.client
import itertools
import json
import os
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import redis
from django.conf import global_settings, settings
from django.db import connection
from django.db.models import Count, Sum
from django.test import override_settings

from accounts.access import access_key_create
from accounts.audit import SYSTEM
from sending.management.commands._bench import bench_sender, wait_for_port
from sending.models import DeliveryAttempt, Message, MessageState, QuotaCounter
from sending.services.senders import sender_address_set_smtp_password
from sending.smtp.tls import self_signed_certificate
from stats.models import DailyCounter
from tests.api.clients import post_form, signed_single_send
from tests.directmail.test_redis_broker import redis_is_up
from tests.dnsserver import DnsServer
from tests.processes import MANAGE, database_url
from tests.smtpsink import SmtpSink, free_port

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = int(os.environ.get("SCALE_OUT_MESSAGES", "20000"))
REDIS_URL = "redis://127.0.0.1:6379/13"
PASSWORD = "scale-out-smtp-password"
DOMAIN = "dest.example"
RATE_LIMIT, BURST_SECONDS, BURST_LONGEST = 10, 3, 20


class Cluster:
    """The processes of a small production, started from this checkout against the test database."""

    def __init__(self, tmp_path, sink_port: int, dns_address: str):
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        self_signed_certificate(cert, key, "smtp.scale.example")
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if k not in {"Q_SYNC", "DJANGO_ALLOW_ASYNC_UNSAFE", "PROMETHEUS_MULTIPROC_DIR"}
            },
            "DJANGO_SETTINGS_MODULE": "directmail.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": settings.SECRET_KEY,
            "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
            "DATA_DIR": str(tmp_path),
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            # The schedules run as in production, the daily domain recheck among them: DNS answers it.
            "DNS_NAMESERVERS": dns_address,
            "SPF_INCLUDE": settings.SPF_INCLUDE,
            "BOUNCE_MX_HOST": settings.BOUNCE_MX_HOST,
            "DELIVERY_MODE": "relay",
            "SMTP_RELAY_URL": f"smtp://127.0.0.1:{sink_port}",
            "DELIVERY_DOMAIN_LIMITS": json.dumps({DOMAIN: {"connections": 8, "per_second": 100000}}),
            "DELIVERY_ACCOUNT_PER_SECOND": "0",
            "DELIVERY_LEASE": "20",  # a killed worker's messages come back quickly
            "API_SEND_RATE_PER_SECOND": "1000000",
            "SMTPD_TLS_CERT": str(cert),
            "SMTPD_TLS_KEY": str(key),
            "SMTPD_TLS_PORT": "",
            "Q_WORKERS": "2",
        }
        self.smtp_port = free_port()
        self.web_ports = [free_port(), free_port()]
        self.workers: list[subprocess.Popen] = []
        self.smtpds: list[subprocess.Popen] = []
        self.webs: list[subprocess.Popen] = []

    def _start(self, argv: list[str], **extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            argv,
            env={**self.env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a process group: SIGKILL takes the cluster's children too
        )

    def healthcheck(self, *args: str) -> subprocess.CompletedProcess:
        """`manage.py healthcheck ...` as a probe on one of these hosts runs it, retried for a while."""
        deadline = time.monotonic() + 60
        while True:
            check = subprocess.run(
                [sys.executable, MANAGE, "healthcheck", *args],
                env=self.env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if check.returncode == 0 or time.monotonic() > deadline:
                return check
            time.sleep(1)

    def start_web(self, port: int, **extra: str) -> subprocess.Popen:
        argv = [sys.executable, "-m", "gunicorn", "directmail.wsgi", "--bind", f"127.0.0.1:{port}"]
        process = self._start([*argv, "--workers", "2", "--log-level", "warning"], **extra)
        self.webs.append(process)
        return process

    def start(self) -> None:
        for _ in range(3):  # each with the scheduler, as the same env file on every host has it
            self.workers.append(self._start([sys.executable, MANAGE, "qcluster"], Q_SCHEDULER="true"))
        for _ in range(2):
            self.smtpds.append(self._start([sys.executable, MANAGE, "smtpd"], SMTPD_PORT=str(self.smtp_port)))
        for port in self.web_ports:
            self.start_web(port)
        for port in [self.smtp_port, *self.web_ports]:
            wait_for_port(port, f"the process for port {port}")

    def stop(self) -> None:
        for process in [*self.webs, *self.smtpds, *self.workers]:
            if process.poll() is None:  # the parent alone (KillMode=mixed): it stops its children
                process.send_signal(signal.SIGTERM)
        for process in [*self.webs, *self.smtpds, *self.workers]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Traffic:
    """API and SMTP clients; `accepted` holds the recipients the service said yes to."""

    def __init__(self, cluster: Cluster, key_id: str, secret: str, sender: str):
        self.cluster, self.key_id, self.secret, self.sender = cluster, key_id, secret, sender
        self.accepted: set[str] = set()
        self.refused: list[str] = []
        self.lock = threading.Lock()

    def signed(self, to: str, nonce: str | None = None) -> dict:
        return signed_single_send(self.key_id, self.secret, self.sender, to, nonce)

    def _api_client(self, port: int, recipients) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for to in recipients:
            try:
                answer = post_form(conn, self.signed(to))
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                answer = {"status": 0, "Code": type(exc).__name__}
            with self.lock:
                if answer["status"] == 200:
                    self.accepted.add(to)
                else:
                    self.refused.append(f"{to}: {answer.get('Code')}")
        conn.close()

    def _smtp_client(self, recipients) -> None:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        client = None
        for to in recipients:
            data = f"From: {self.sender}\r\nTo: {to}\r\nSubject: Your receipt\r\n\r\nThank you.\r\n"
            for _attempt in range(3):  # a client whose server died reconnects, as mail clients do
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", self.cluster.smtp_port, timeout=60)
                        client.starttls(context=context)
                        client.login(self.sender, PASSWORD)
                    client.sendmail(self.sender, [to], data)
                except (OSError, smtplib.SMTPException) as exc:
                    client = None
                    with self.lock:
                        self.refused.append(f"{to}: {type(exc).__name__}")
                    continue
                with self.lock:
                    self.accepted.add(to)
                break
        if client is not None:
            client.quit()

    def run(self, prefix: str, count: int, during=None) -> None:
        """`count` messages, half through the API (4 clients per web process), half over SMTP (8
        connections); `during()` runs in the middle of it."""
        api = [f"{prefix}-api-{n}@{DOMAIN}" for n in range(count // 2)]
        smtp = [f"{prefix}-smtp-{n}@{DOMAIN}" for n in range(count - count // 2)]
        threads = [
            threading.Thread(target=self._api_client, args=(port, api[i::8]))
            for i, port in zip(range(8), itertools.cycle(self.cluster.web_ports), strict=False)
        ]
        threads += [threading.Thread(target=self._smtp_client, args=(smtp[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        if during is not None:
            during()
        for thread in threads:
            thread.join()


def _burst(traffic: Traffic, ports: list[int], seconds: float, longest: float) -> tuple[Counter, float]:
    """Sending calls as fast as 8 clients (4 per port) make them for `seconds`, and on until one is refused
    (at most `longest` seconds: a slow machine needs longer to offer more than the limit); the answers by
    code and the seconds it took."""
    codes: Counter = Counter()
    started = time.monotonic()

    def client(port: int, number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for call in itertools.count():
            spent = time.monotonic() - started
            if spent >= longest or (spent >= seconds and codes["Throttling.User"]):
                break
            answer = post_form(conn, traffic.signed(f"burst-{port}-{number}-{call}@{DOMAIN}"))
            with traffic.lock:
                codes["OK" if answer["status"] == 200 else answer["Code"]] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(p, n)) for p in ports for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes, time.monotonic() - started


def _warm_up(traffic: Traffic, ports: list[int]) -> None:
    """A call through each process of each port (two gunicorn workers each), so the burst measures the
    shared limit, not how long new processes take to load the code."""
    threads = [
        threading.Thread(
            target=lambda p, n: post_form(
                http.client.HTTPConnection("127.0.0.1", p, timeout=60),
                traffic.signed(f"warm-{p}-{n}@{DOMAIN}"),
            ),
            args=(port, number),
        )
        for port in ports
        for number in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(1.1)  # a new second: the warm-up's calls are not in the burst's


def _received_ids(sink) -> Counter:
    parser = email.parser.BytesHeaderParser()
    return Counter(parser.parsebytes(m.data)["Message-ID"].strip("<>") for m in sink.messages)


def _wait_until_delivered(expected: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Message.objects.filter(state=MessageState.DELIVERED).count() >= expected:
            return
        time.sleep(1)
    states = dict(Message.objects.values_list("state").annotate(n=Count("pk")).order_by())
    pytest.fail(f"not all delivered in {seconds} s: {states}")


def test_many_processes_deliver_every_message_exactly_once_and_lose_none_when_killed(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the scale-out test runs on PostgreSQL (DATABASE_URL=postgres://...)")
    if not redis_is_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    redis.Redis.from_url(REDIS_URL).flushdb()
    sender = bench_sender("scale@example.com", "scale.example.com")
    # Hashed as production hashes it: the smtpd processes run with production settings.
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        sender_address_set_smtp_password(sender=sender, password=PASSWORD, actor=SYSTEM)
    key, secret = access_key_create(account=sender.account, actor=SYSTEM)

    with SmtpSink() as sink, DnsServer() as dns_server:
        dns_server.publish_domain(sender.domain)
        cluster = Cluster(tmp_path, sink.port, dns_server.address)
        try:
            cluster.start()
            # The probes of docs/deploy.md answer on this layout (PostgreSQL, the Redis broker).
            for probe in (["web"], ["worker", "--this-host"], ["smtpd", "--port", str(cluster.smtp_port)]):
                check = cluster.healthcheck(*probe)
                assert check.returncode == 0, (probe, check.stderr)
            traffic = Traffic(cluster, key.key_id, secret, sender.address)

            # What one web process saw, the other knows: the nonce, the idempotency key.
            first, second = (
                http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in cluster.web_ports
            )
            once = traffic.signed(f"nonce@{DOMAIN}", nonce="scale-out-nonce")
            assert post_form(first, once)["status"] == 200
            assert post_form(second, once)["Code"] == "SignatureNonceUsed"
            keyed = [
                post_form(c, traffic.signed(f"idem@{DOMAIN}"), {"Idempotency-Key": "k1"})
                for c in (first, second)
            ]
            assert keyed[0]["EnvId"] == keyed[1]["EnvId"]
            traffic.accepted |= {f"nonce@{DOMAIN}", f"idem@{DOMAIN}"}

            # Part one: everything at once, nothing killed.
            started = time.monotonic()
            traffic.run("one", MESSAGES)
            print(f"part one: {MESSAGES} accepted in {time.monotonic() - started:.0f} s")
            assert len(traffic.refused) == 0, f"{len(traffic.refused)} refused, e.g. {traffic.refused[:10]}"
            total = len(traffic.accepted)
            assert total == MESSAGES + 2
            _wait_until_delivered(total, seconds=900)
            print(f"part one: delivered after {time.monotonic() - started:.0f} s")
            received = _received_ids(sink)
            messages = dict(Message.objects.values_list("message_id", "rcpt"))
            assert len(messages) == total
            assert set(messages.values()) == traffic.accepted
            assert set(received) == set(messages)  # every message arrived ...
            assert max(received.values()) == 1  # ... exactly once
            assert not Message.objects.filter(lost_leases__gt=0).exists()
            assert DeliveryAttempt.objects.count() == total  # one attempt each: no lease taken twice
            quotas = QuotaCounter.objects.filter(account=sender.account)  # a run may cross local midnight
            for period in (QuotaCounter.Period.DAY, QuotaCounter.Period.MONTH):
                assert quotas.filter(period=period).aggregate(used=Sum("used"))["used"] == total
            sums = DailyCounter.objects.filter(account=sender.account).aggregate(
                requests=Sum("requests"), delivered=Sum("delivered")
            )
            assert sums == {"requests": total, "delivered": total}

            # Rate-limit buckets are shared too: two more web processes (two gunicorn workers each) with a
            # limit of 10 sending calls a second per account let through at most 10 in any second between
            # them, where buckets in process memory would let each of their four processes take 10.
            limited = [free_port(), free_port()]
            for port in limited:
                cluster.start_web(port, API_SEND_RATE_PER_SECOND=str(RATE_LIMIT))
            for port in limited:
                wait_for_port(port, f"the process for port {port}")
            other = bench_sender("burst@example.com", "burst.example.com")
            dns_server.publish_domain(other.domain)
            other_key, other_secret = access_key_create(account=other.account, actor=SYSTEM)
            burst = Traffic(cluster, other_key.key_id, other_secret, other.address)
            _warm_up(burst, limited)
            codes, spent = _burst(burst, limited, seconds=BURST_SECONDS, longest=BURST_LONGEST)
            print(f"rate limit: {dict(codes)} in {spent:.1f} s")
            assert set(codes) <= {"OK", "Throttling.User"}, codes
            assert codes["Throttling.User"] > 0
            assert 0 < codes["OK"] <= RATE_LIMIT * (int(spent) + 2)  # whole seconds the burst touched

            # Part two: a worker and an smtpd die (SIGKILL, process group and all) in the middle.
            def kill_one_of_each():
                time.sleep(4)
                os.killpg(cluster.workers[0].pid, signal.SIGKILL)
                os.killpg(cluster.smtpds[0].pid, signal.SIGKILL)

            before, started = set(traffic.accepted), time.monotonic()
            traffic.run("two", max(MESSAGES // 5, 400), during=kill_one_of_each)
            assert cluster.workers[0].wait(timeout=10) and cluster.smtpds[0].wait(timeout=10)
            accepted_now = traffic.accepted - before
            assert accepted_now, "nothing was accepted in part two"
            stored = set(Message.objects.values_list("rcpt", flat=True))
            assert accepted_now <= stored  # nothing a client was told was accepted is missing
            print(f"part two: accepted in {time.monotonic() - started:.0f} s")
            _wait_until_delivered(Message.objects.count(), seconds=600)
            print(f"part two: delivered after {time.monotonic() - started:.0f} s")
            received = _received_ids(sink)
            ids = dict(Message.objects.filter(rcpt__in=accepted_now).values_list("message_id", "rcpt"))
            assert set(ids) <= set(received)  # and all of it arrived
            # At least once: a message in the killed worker's hands may arrive twice, never more.
            assert max(received.values()) <= 2
        finally:
            cluster.stop()
