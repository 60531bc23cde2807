"""Health and metrics as an operator's probes see them: /healthz and /readyz, `manage.py healthcheck` for
web, worker and smtpd, and /metrics adding up the counters of every process on the machine (runall gives
them one PROMETHEUS_MULTIPROC_DIR), refusing scrapers outside METRICS_ALLOWED_IPS without the token; the
same from `manage.py metrics_server` on hosts without a web process."""

import http.client
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

from django.test import TestCase, override_settings

from tests.directmail.test_runall import free_port, wait_for_http, wait_for_smtp
from tests.processes import MANAGE, manage, manage_env


def healthy_within(data_dir, *args, seconds: float = 30, **env) -> subprocess.CompletedProcess:
    deadline = time.monotonic() + seconds
    while True:
        check = manage(data_dir, "healthcheck", *args, **env)
        if check.returncode == 0 or time.monotonic() > deadline:
            return check
        time.sleep(0.5)


def test_probes_and_metrics_of_a_running_installation(tmp_path):
    env = {"DEBUG": "true", "SMTPD_PORT": str(free_port()), "SMTPD_TLS_PORT": str(free_port())}
    assert manage(tmp_path, "migrate", "--noinput", **env).returncode == 0
    smtp_port = int(env["SMTPD_PORT"])
    # Nothing runs yet: the worker and smtpd checks fail, saying why.
    down = manage(tmp_path, "healthcheck", "worker", **env)
    assert down.returncode == 1 and "no worker cluster" in down.stderr
    assert manage(tmp_path, "healthcheck", "smtpd", **env).returncode == 1

    port = free_port()
    runner = subprocess.Popen(
        [sys.executable, MANAGE, "runall", "--addrport", f"127.0.0.1:{port}"],
        env=manage_env(tmp_path, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/healthz") == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert json.loads(response.read()) == {"ready": True, "database": "ok", "broker": "ok"}
        assert wait_for_smtp(smtp_port).startswith("220")  # one SMTP session, counted by the smtpd process
        for process in ("web", "worker", "smtpd"):
            check = healthy_within(tmp_path, process, **env)
            assert check.returncode == 0, (process, check.stderr)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            page = response.read().decode()
        # The web process shows what the smtpd process counted: one folder for the machine's processes.
        sessions = re.search(rf'directmail_smtp_sessions_total{{port="{smtp_port}"}} (\S+)', page)
        assert sessions and float(sessions.group(1)) >= 1, page[:2000]
        assert 'directmail_queue_messages{state="queued"} 0.0' in page
        assert "django_http_requests_total_by_method_total" in page  # django-prometheus's own
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=30)


def test_readiness_fails_when_the_broker_is_down(tmp_path):
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens there
    check = manage(tmp_path, "healthcheck", "web", **env)
    assert check.returncode == 1
    assert "database ok" in check.stderr and "broker error" in check.stderr


class MetricsAccessTest(TestCase):
    def test_loopback_scrapes(self):
        response = self.client.get("/metrics")
        self.assertEqual(response.status_code, 200)
        self.assertIn(b"directmail_queue_oldest_due_seconds", response.content)

    @override_settings(TRUSTED_PROXIES=["127.0.0.1"])
    def test_a_local_proxy_does_not_make_everyone_loopback(self):
        behind = self.client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.5")
        self.assertEqual(behind.status_code, 404)

    def test_other_addresses_need_the_token(self):
        self.assertEqual(self.client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code, 404)
        with override_settings(METRICS_TOKEN="s3cret"):
            wrong = self.client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer nope")
            self.assertEqual(wrong.status_code, 404)
            right = self.client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer s3cret")
            self.assertEqual(right.status_code, 200)


def test_an_empty_prometheus_folder_keeps_the_counters_in_memory(tmp_path):
    """prometheus-client goes multiprocess when PROMETHEUS_MULTIPROC_DIR merely exists; empty, it would
    write its files into the working directory. The settings treat empty as unset."""
    count = "from directmail import metrics; metrics.API_CALLS.labels('SingleSendMail', 'OK').inc(); "
    show = "from prometheus_client import values; print(values.ValueClass.__name__)"
    run = subprocess.run(
        [sys.executable, MANAGE, "shell", "--no-imports", "-c", count + show],
        env=manage_env(tmp_path / "data", PROMETHEUS_MULTIPROC_DIR=""),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "MutexValue"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def _scrape(port: int, path: str = "/metrics", source: str = "127.0.0.1", token: str = "") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    response = conn.getresponse()
    return response.status, response.read().decode()


def test_a_host_without_web_serves_its_processes_metrics(tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "METRICS_ALLOWED_IPS": "127.0.0.1/32",
        "METRICS_TOKEN": "s3cret",
    }
    assert manage(tmp_path, "migrate", "-v0", **env).returncode == 0
    # A worker of this host delivered three messages (and has exited since: its counts stay).
    worker = "from directmail import metrics; metrics.DELIVERIES.labels('delivered').inc(3)"
    assert manage(tmp_path, "shell", "--no-imports", "-c", worker, **env).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, MANAGE, "metrics_server", "--port", str(port)],
        env=manage_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/metrics") == 200
        status, page = _scrape(port)
        assert status == 200
        assert 'directmail_deliveries_total{result="delivered"} 3.0' in page
        assert 'directmail_queue_messages{state="queued"} 0.0' in page
        assert _scrape(port, "/admin/")[0] == 404
        assert _scrape(port, source="127.0.0.2")[0] == 404  # not an allowed address ...
        assert _scrape(port, source="127.0.0.2", token="s3cret")[0] == 200  # ... unless it has the token
        assert _scrape(port, source="127.0.0.2", token="guess")[0] == 404
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "metrics server stopped" in output


class BenchViewTests(TestCase):
    def test_the_benchmark_view_is_not_served_unless_bench_views_is_set(self):
        from django.urls import resolve
        from django.urls.exceptions import Resolver404

        with self.assertRaises(Resolver404):
            resolve("/bench/insert")
        self.assertEqual(self.client.post("/bench/insert", {"SignatureNonce": "n"}).status_code, 404)
