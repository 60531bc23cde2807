"""Run `manage.py` in a child process with its own data folder, as an operator would."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

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
