"""`make bench`: how fast the API accepts mail, against a trivial view served the same way in the same run.

The web app runs under gunicorn (gthread workers, sized to the machine) as in production. Concurrent
keep-alive clients send signed SingleSendMail calls (RPC v1, one recipient each) and, as the baselines,
GETs of /healthz (a view that touches nothing) and the same signed POSTs to an insert-only view
(/bench/insert, BENCH_VIEWS: the form read, one INSERT, a JSON answer). It prints requests/s, p50/p99
latency and the ratios; it asserts nothing, but says how many calls failed and whether every accepted call
left an envelope behind. Run it on an empty database (make bench makes one).
"""

import http.client
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.access import access_key_create
from accounts.audit import SYSTEM
from sending.api.signatures import rpc_signature
from sending.management.commands._bench import bench_sender, free_port, record, run_clients, wait_for_port
from sending.models import Envelope


class Command(BaseCommand):
    help = "Measure API requests/s and latency under gunicorn against a trivial view (prints results)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=3000, help="Calls per phase.")
        # Sized as measured best on the 2-core machine: processes, not threads (the GIL), two per core,
        # and two clients per process so each has one call waiting while it works on another.
        workers = 2 * (os.cpu_count() or 1)
        parser.add_argument("--workers", type=int, default=workers, help="gunicorn processes.")
        parser.add_argument("--threads", type=int, default=1, help="Threads per gunicorn process.")
        parser.add_argument("--clients", type=int, default=2 * workers, help="Keep-alive connections.")

    def handle(self, *args, **options):
        if Envelope.objects.exists():
            raise CommandError("bench_api needs an empty database (make bench creates one)")
        key_id, secret = self._setup()
        port = free_port()
        server = self._start_gunicorn(port, options["workers"], options["threads"])
        try:
            self.stdout.write(
                f"API benchmark on {connection.vendor}: gunicorn {options['workers']} workers x "
                f"{options['threads']} threads, {options['clients']} keep-alive clients, "
                f"{options['requests']} calls per phase"
            )
            call = self._signed_call(key_id, secret)
            insert = self._signed_call(key_id, secret, path="/bench/insert")
            self._load(port, 200, options["clients"], call)  # warm-up: connections, caches, imports
            self._load(port, 200, options["clients"], self._trivial)
            self._load(port, 200, options["clients"], insert)
            Envelope.objects.all().delete()
            baseline = self._load(port, options["requests"], options["clients"], self._trivial)
            insert_only = self._load(port, options["requests"], options["clients"], insert)
            api = self._load(port, options["requests"], options["clients"], call)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        self._report("trivial view (/healthz)", baseline)
        self._report("insert-only view (the same signed POST, one INSERT)", insert_only)
        self._report("SingleSendMail", api)
        if call.first_failure:
            self.stdout.write(f"  first failure: {call.first_failure[0]}")
        stored = Envelope.objects.count()
        self.stdout.write(
            f"  ratio: {api['rate'] / baseline['rate']:.2f}x the trivial view's requests/s, "
            f"{api['rate'] / insert_only['rate']:.2f}x the insert-only view's; "
            f"p99 {api['p99']:.1f} ms vs {insert_only['p99']:.1f} ms"
        )
        self.stdout.write(f"  every accepted call stored its envelope: {stored == api['ok']} ({stored})")
        record("api", api["rate"], "calls/s", baseline=insert_only["rate"], baseline_name="insert-only view")
        record("api_p99", api["p99"], "ms")

    def _setup(self) -> tuple[str, str]:
        sender = bench_sender("bench-api@example.com", "bench.example.com")
        key, secret = access_key_create(account=sender.account, actor=SYSTEM)
        return key.key_id, secret

    def _start_gunicorn(self, port: int, workers: int, threads: int) -> subprocess.Popen:
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback, where TLS would end at the proxy
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATA_DIR": str(settings.DATA_DIR),
            # Counted as in production, but high enough that the benchmark measures work, not refusals.
            "API_SEND_RATE_PER_SECOND": "1000000",
            "BENCH_VIEWS": "true",  # the insert-only baseline view
        }
        options = {
            "--bind": f"127.0.0.1:{port}",
            "--workers": str(workers),
            "--worker-class": "gthread",
            "--threads": str(threads),
            "--keep-alive": "30",
            "--log-level": "warning",
        }
        command = [sys.executable, "-m", "gunicorn", "directmail.wsgi", *sum(options.items(), ())]
        server = subprocess.Popen(command, env=env)
        try:
            wait_for_port(port, "gunicorn")
        except CommandError:
            server.kill()
            raise
        return server

    @staticmethod
    def _trivial(conn: http.client.HTTPConnection) -> bool:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        return response.status == 200

    @staticmethod
    def _signed_call(key_id: str, secret: str, path: str = "/"):
        def call(conn: http.client.HTTPConnection) -> bool:
            params = {
                "Action": "SingleSendMail",
                "Format": "JSON",
                "Version": "2015-11-23",
                "AccessKeyId": key_id,
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "SignatureNonce": secrets.token_hex(16),
                "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "AccountName": "noreply@bench.example.com",
                "AddressType": "1",
                "ReplyToAddress": "false",
                "ToAddress": f"user{secrets.randbelow(10**6)}@example.org",
                "Subject": "Your receipt",
                "HtmlBody": "<p>Thank you for your order.</p>",
            }
            params["Signature"] = rpc_signature("POST", params, secret)
            conn.request(
                "POST", path, urlencode(params), {"Content-Type": "application/x-www-form-urlencoded"}
            )
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 and not first_failure:
                first_failure.append(body.decode(errors="replace")[:300])
            return response.status == 200

        first_failure: list[str] = []
        call.first_failure = first_failure  # type: ignore[attr-defined]
        return call

    @staticmethod
    def _load(port: int, total: int, clients: int, call) -> dict:
        latencies: list[float] = []
        failures = [0]
        lock = threading.Lock()
        remaining = [total]

        def client(_number: int):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while True:
                with lock:
                    if remaining[0] <= 0:
                        break
                    remaining[0] -= 1
                start = time.perf_counter()
                try:
                    ok = call(conn)
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies.append(elapsed)
                    failures[0] += 0 if ok else 1
            conn.close()

        wall = run_clients(clients, client)
        latencies.sort()
        return {
            "rate": total / wall,
            "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99) - 1],
            "failed": failures[0],
            "ok": total - failures[0],
        }

    def _report(self, name: str, result: dict) -> None:
        self.stdout.write(
            f"  {name}: {result['rate']:.0f} requests/s, p50 {result['p50']:.1f} ms, "
            f"p99 {result['p99']:.1f} ms, {result['failed']} failed"
        )
