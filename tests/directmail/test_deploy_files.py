"""The files docs/deploy.md tells operators to install are valid: the systemd units pass `systemd-analyze
verify` and stop their processes as systemd would, and the example environment file yields a production
configuration that Django's deployment check accepts. The nginx site: test_nginx_front.py."""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from tests.processes import MANAGE, manage, manage_env

DEPLOY = Path(settings.BASE_DIR) / "deploy"


def _needs(tool: str):
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed here")


@_needs("systemd-analyze")
def test_the_systemd_units_verify(tmp_path):
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {u.name for u in units} == {
        "directmail-web.service", "directmail-worker.service", "directmail-smtpd.service",
        "directmail-metrics.service",
    }  # fmt: skip
    for unit in units:  # installed where the units say, /opt/directmail: here, this checkout
        text = unit.read_text().replace("/opt/directmail", str(settings.BASE_DIR))
        (tmp_path / unit.name).write_text(text)
    check = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert check.stderr.strip() == "", check.stderr


def _unit_setting(unit: str, name: str) -> str | None:
    for line in (DEPLOY / "systemd" / unit).read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip()
    return None


def test_stopping_the_worker_unit_lets_its_cluster_exit(tmp_path):
    """systemd stops a unit by its KillMode: the main process alone (mixed, process) or every process of
    the unit at once (control-group, the default), which leaves django-q2's parent waiting forever for
    workers that are gone. Stopped as the unit says, the cluster exits by itself."""
    kill_mode = _unit_setting("directmail-worker.service", "KillMode") or "control-group"
    assert manage(tmp_path, "migrate", "-v0").returncode == 0
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        cluster = subprocess.Popen(
            [sys.executable, MANAGE, "qcluster"],
            env=manage_env(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the unit's processes, as its control group holds them
        )
    try:
        for _ in range(600):
            if "running." in log.read_text() or cluster.poll() is not None:
                break
            time.sleep(0.1)
        assert "running." in log.read_text(), log.read_text()
        time.sleep(3)  # its guard loop is going: the state a unit is in when systemd stops it
        if kill_mode in {"mixed", "process"}:
            cluster.send_signal(signal.SIGTERM)
        else:
            os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"KillMode={kill_mode}: the cluster did not exit after SIGTERM\n{log.read_text()}")
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()


def test_the_example_environment_passes_the_deployment_check(tmp_path):
    """Read as docs/deploy.md runs commands by hand (ENV_FILE=/etc/directmail/env), with its secrets made."""
    (tmp_path / "secret_key").write_text(secrets.token_urlsafe(64))
    (tmp_path / "encryption_keys").write_text(Fernet.generate_key().decode())
    example = (DEPLOY / "directmail.env.example").read_text()
    for installed, here in [
        ("/etc/directmail/secret_key", tmp_path / "secret_key"),
        ("/etc/directmail/encryption_keys", tmp_path / "encryption_keys"),
        ("DATA_DIR=/var/lib/directmail", f"DATA_DIR={tmp_path / 'data'}"),
        ("/run/directmail-metrics", tmp_path),
    ]:
        assert installed in example, installed
        example = example.replace(installed, str(here))
    (tmp_path / "env").write_text(example)
    check = subprocess.run(
        [sys.executable, MANAGE, "check", "--deploy", "--fail-level", "WARNING"],
        env={"PATH": "/usr/bin:/bin", "ENV_FILE": str(tmp_path / "env")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout


def test_a_missing_env_file_is_a_clear_error(tmp_path):
    check = subprocess.run(
        [sys.executable, MANAGE, "check"],
        env={"PATH": "/usr/bin:/bin", "ENV_FILE": str(tmp_path / "nowhere")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 1
    assert f"ENV_FILE names {tmp_path / 'nowhere'}, which is not a readable file." in check.stderr
