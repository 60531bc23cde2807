"""Run `manage.py` in a child process with its own data folder, as an operator would."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
# What the test run sets for itself and a fresh install would not have.
UNINHERITED = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "Q_SYNC", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def manage_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh install in `data_dir`: production settings module, embedded SQLite."""
    env = {k: v for k, v in os.environ.items() if k not in UNINHERITED}
    env.update(DJANGO_SETTINGS_MODULE="directmail.settings", DATA_DIR=str(data_dir), **extra)
    return env


def manage(data_dir: Path, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, MANAGE, *args],
        env=manage_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def database_url() -> str:
    """The URL of the database the tests run on, for a child process that must share it."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def through(switch_port: int) -> str:
    """database_url() reached through a tests.faults.TcpSwitch on `switch_port` (PostgreSQL)."""
    real = urlsplit(database_url())
    return real._replace(netloc=f"{real.username}:{real.password}@127.0.0.1:{switch_port}").geturl()


def child_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of a server process on the test database `database` (the tests' settings: their
    password hasher, keys and data folder), without the tests' Redis unless `extra` names one."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database,
        "SECRET_KEY": settings.SECRET_KEY,
        "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "DATA_DIR": str(settings.DATA_DIR),
        "CONN_MAX_AGE": "600",
    }
    env.pop("REDIS_URL", None)
    return {**env, **extra}


def shell_child(code: str, **extra: str) -> subprocess.Popen:
    """`manage.py shell -c code` in a child process on the test database, as a worker would run it (tasks
    it enqueues go to the broker: nothing runs them inline). `extra` adds environment variables."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "directmail.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        **extra,
    }
    env.pop("Q_SYNC", None)
    return subprocess.Popen(
        [sys.executable, MANAGE, "shell", "--no-imports", "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_group(argv: list[str], env: dict[str, str], **popen) -> subprocess.Popen:
    """A child in a process group of its own, so that stop_group() reaches what it starts (a django-q2
    cluster's workers outlive a SIGKILL of the cluster's parent alone)."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return subprocess.Popen(argv, env=env, start_new_session=True, **{**quiet, **popen})


def stop_group(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it has not stopped within `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
