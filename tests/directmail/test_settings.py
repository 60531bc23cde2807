"""The settings as a fresh install and a production profile get them."""

import sqlite3

from tests.processes import manage

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x9!rT2vLq8#mZp4Wc6sYh1Nb7Kd3Fg5Jt0Ue" * 2,
    "ALLOWED_HOSTS": "mail.example.com",
}


def test_production_profile_passes_check_deploy_without_warnings(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_in_production_would_be_reported(tmp_path):
    result = manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, "DEBUG": "true"}
    )
    assert result.returncode != 0
    assert "DEBUG" in result.stderr + result.stdout


def test_embedded_sqlite_is_durable_and_waits_for_locks(tmp_path):
    """WAL, synchronous=FULL and IMMEDIATE transactions on the file the install really uses."""
    assert manage(tmp_path, "migrate", "--noinput").returncode == 0
    probe = "\n".join(
        [
            "from django.db import connection",
            "c = connection.cursor()",
            "print(c.execute('PRAGMA journal_mode').fetchone()[0])",
            "print(c.execute('PRAGMA synchronous').fetchone()[0])",
            "print(connection.settings_dict['OPTIONS']['transaction_mode'])",
            "print(connection.settings_dict['CONN_MAX_AGE'])",
        ]
    )
    result = manage(tmp_path, "shell", "--no-imports", "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "2", "IMMEDIATE", "600"]
    # The database lives in the data folder, in WAL mode for every later reader too.
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_generated_secret_key_is_kept_private_and_stable(tmp_path):
    first = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )
    second = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )
    assert first.stdout == second.stdout and len(first.stdout.strip()) > 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_file_variant(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file-" + "s" * 50 + "\n")
    result = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        SECRET_KEY_FILE=str(key_file),
    )
    assert result.stdout.strip() == "from-a-file-" + "s" * 50
