"""With REDIS_URL set, django-q2 uses Redis as its broker and Django's cache is Redis: a task round-trips."""

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.processes import MANAGE, manage, manage_env

REDIS = ("127.0.0.1", 6379)
REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_is_up() -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(REDIS) == 0


@pytest.fixture
def redis_url():
    if not redis_is_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return REDIS_URL


def test_a_task_goes_through_the_redis_broker(tmp_path, redis_url):
    env = {"REDIS_URL": redis_url}
    assert manage(tmp_path, "migrate", "--noinput", **env).returncode == 0
    probe = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        "from django_q.brokers import get_broker; from django.core.cache import caches; "
        "print(type(get_broker()).__name__, type(caches['default']).__name__)",
        **env,
    )
    assert probe.stdout.split() == ["Redis", "RedisCache"], probe.stderr

    worker = subprocess.Popen(
        [sys.executable, MANAGE, "qcluster"],
        env=manage_env(tmp_path, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        enqueue = manage(
            tmp_path,
            "shell",
            "--no-imports",
            "-c",
            "from django_q.tasks import async_task; print(async_task('math.hypot', 3, 4))",
            **env,
        )
        task_id = enqueue.stdout.strip()
        assert task_id, enqueue.stderr
        deadline = time.monotonic() + 30
        answer = ""
        while time.monotonic() < deadline and answer != "5.0":
            answer = manage(
                tmp_path,
                "shell",
                "--no-imports",
                "-c",
                f"from django_q.tasks import result; print(result('{task_id}'))",
                **env,
            ).stdout.strip()
            time.sleep(0.5)
        assert answer == "5.0"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
