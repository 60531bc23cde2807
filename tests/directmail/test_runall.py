"""`make run`'s process runner: web, worker and smtpd start together and Ctrl-C stops them cleanly."""

import os
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


def test_kill_9_of_runall_stops_its_children_and_a_held_port_is_named(tmp_path):
    """`kill -9` leaves nothing listening (the kernel signals the children), so the next start works; a
    port that something else holds is named with its process, and nothing starts."""
    assert manage(tmp_path, "migrate", "--noinput", DEBUG="true").returncode == 0
    port, smtp_port = free_port(), free_port()
    env = manage_env(tmp_path, DEBUG="true", SMTPD_PORT=str(smtp_port), SMTPD_TLS_PORT=str(free_port()))
    argv = [sys.executable, MANAGE, "runall", "--addrport", f"127.0.0.1:{port}"]
    runner = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/login/") == 200
        assert wait_for_smtp(smtp_port).startswith("220")
        with socket.create_connection(("127.0.0.1", smtp_port), timeout=5) as client:
            client.recv(512)
            client.sendall(b"QUIT\r\n")
            while client.recv(512):  # the server closes first: its side waits out TIME_WAIT on the port
                pass
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and (_listening(port) or _listening(smtp_port)):
            time.sleep(0.2)
        assert not _listening(port) and not _listening(smtp_port), "runall's children outlived it"
        # The next start works at once: the connections it served, waiting out TIME_WAIT, hold no port.
        runner = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for_http(f"http://127.0.0.1:{port}/login/") == 200
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        blocked = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert blocked.returncode != 0
    assert f"127.0.0.1:{port}: it is in use by process {os.getpid()}" in blocked.stderr, blocked.stderr


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
