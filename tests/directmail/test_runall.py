"""`make run`'s process runner: web, worker and smtpd start together and Ctrl-C stops them cleanly."""

import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.processes import MANAGE, manage, manage_env


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, seconds: float = 30) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing answered at {url}")


def wait_for_smtp(port: int, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                return sock.recv(1024).decode()
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"no SMTP server answered on port {port}")


def test_web_worker_and_smtpd_run_together_and_stop_on_ctrl_c(tmp_path):
    assert manage(tmp_path, "migrate", "--noinput", DEBUG="true").returncode == 0
    port, smtp_port = free_port(), free_port()
    runner = subprocess.Popen(
        [sys.executable, MANAGE, "runall", "--addrport", f"127.0.0.1:{port}"],
        env=manage_env(tmp_path, DEBUG="true", SMTPD_PORT=str(smtp_port), SMTPD_TLS_PORT=str(free_port())),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/login/") == 200
        assert wait_for_smtp(smtp_port).startswith("220")
        # The worker is up too: its cluster registers itself (ORM broker on SQLite).
        time.sleep(2)
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, output
    assert "started web, worker, smtpd" in output
    assert "smtpd stopped" in output
    assert "stopped" in output
    assert "Q Cluster" in output  # django-q2's worker logged its start
    # Nothing is left listening.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
