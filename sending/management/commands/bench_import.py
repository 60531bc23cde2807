"""`make bench`: how fast a recipient file is imported, against reading the same file with csv alone.

For each size it writes a CSV file (address, UserName and 3 custom fields), uploads it through the
service as the console does, and runs the real import task (sending.lists.importer.import_run) in a
process of its own, which reports the task's wall time and the process's peak memory. The baselines: the
same file read by csv.reader in this process, and its rows written by the database's bulk path alone
(COPY on PostgreSQL, executemany on SQLite) into another list. It prints rows/s, the ratios and peak
memory; it asserts nothing, but says whether every row arrived in the list. Run it on an empty database
(make bench makes one).
"""

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.lists.importer import import_run
from sending.management.commands._bench import record
from sending.models import Recipient, RecipientImport
from sending.services import lists as service

CITIES = ["Hangzhou", "北京", "Shanghai", "Shenzhen, Nanshan", "Chengdu"]


class Command(BaseCommand):
    help = "Measure recipient imports (rows/s, peak memory) against reading the file with csv alone."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rows", type=int, action="append", help="File sizes (default 10000 and 100000)."
        )
        parser.add_argument("--run", type=int, help=argparse_hidden())

    def handle(self, *args, **options):
        if options["run"]:
            return self._child(options["run"])
        sizes = options["rows"] or [10_000, 100_000]
        self.stdout.write(f"Import benchmark: a CSV with UserName and 3 custom fields, sizes {sizes}")
        for size in sizes:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"recipients-{size}.csv"
                self._write(path, size)
                self._measure(path, size)

    @staticmethod
    def _write(path: Path, rows: int) -> None:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["Email", "UserName", "City", "Plan", "Score"])
            for n in range(rows):
                writer.writerow(
                    [f"user{n}@example.org", f"User {n}", CITIES[n % 5], "gold" if n % 3 else "free", n]
                )

    def _measure(self, path: Path, size: int) -> None:
        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as source:
            read = sum(1 for _row in csv.reader(source)) - 1
        baseline = read / (time.perf_counter() - started)

        _user, account, _created = user_signup(
            email=f"bench-import-{size}@example.com",
            password=None,
            account_name=f"bench {size}",
            actor=SYSTEM,
        )
        account.max_recipients_per_list = size
        account.save()
        recipient_list = service.list_create(account=account, name=f"bench {size}", actor=SYSTEM)
        started = time.perf_counter()
        with path.open("rb") as raw:
            recipient_import = service.import_upload(
                recipient_list=recipient_list, upload=File(raw, name=path.name), actor=SYSTEM
            )
        uploaded = time.perf_counter() - started
        found = service.import_preview(recipient_import)
        service.import_start(
            recipient_import=recipient_import,
            encoding=found.encoding,
            delimiter=found.delimiter,
            has_header=found.has_header,
            mapping=found.guesses,
            mode="add",
            actor=SYSTEM,
        )
        child = subprocess.run(
            [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "bench_import",
                "--run",
                str(recipient_import.pk),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "Q_SYNC": "false"},
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        recipient_import.refresh_from_db()
        recipient_list.refresh_from_db()
        rate = size / result["seconds"]
        self.stdout.write(
            f"  {size} rows ({path.stat().st_size / 1e6:.1f} MB): upload {uploaded:.2f} s, "
            f"import task {result['seconds']:.2f} s = {rate:,.0f} rows/s, "
            f"peak memory {result['peak_mb']:.0f} MB (an idle worker process: {result['idle_mb']:.0f} MB)"
        )
        self.stdout.write(f"    csv.reader alone: {baseline:,.0f} rows/s; ratio {rate / baseline:.2f}")
        bulk = self._bulk_path(path, account)
        how = "COPY" if connection.vendor == "postgresql" else "executemany"
        self.stdout.write(
            f"    the database's bulk path alone ({how} of the same rows): {bulk:,.0f} rows/s; "
            f"ratio {rate / bulk:.2f}"
        )
        if size == 100_000:
            record("import", rate, "rows/s", baseline=bulk, baseline_name="bulk path alone")
            record("import_memory", result["peak_mb"], "MB")
        self.stdout.write(
            f"    status {recipient_import.status}, every row in the list: "
            f"{recipient_list.recipient_count == size and recipient_import.imported == size} "
            f"({recipient_list.recipient_count})"
        )

    @staticmethod
    def _bulk_path(path: Path, account) -> float:
        """Rows/s of the file's rows read with csv.reader and written into a fresh list's recipients by the
        database's own bulk path (PostgreSQL: COPY; SQLite: executemany in one transaction), nothing else."""
        target = service.list_create(account=account, name=f"bulk {path.stem}"[:30], actor=SYSTEM)
        table = Recipient._meta.db_table
        columns = ["recipient_list_id", "email", "email_key", "user_name", "nick_name", "gender", "birthday",
                   "mobile", "custom", "created_at", "updated_at"]  # fmt: skip
        now = timezone.now()
        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as source, transaction.atomic():
            reader = csv.reader(source)
            next(reader)
            rows = (
                (target.pk, email, email.lower(), name, "", "", "", "",
                 json.dumps({"City": city, "Plan": plan, "Score": score}), now, now)
                for email, name, city, plan, score in reader
            )  # fmt: skip
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        batch = list(rows)
                        for row in batch:
                            copy.write_row(row)
                else:
                    batch = list(rows)
                    marks = ", ".join(["%s"] * len(columns))
                    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - our names
                    cursor.executemany(insert, batch)
        seconds = time.perf_counter() - started
        Recipient.objects.filter(recipient_list=target).delete()
        return len(batch) / seconds

    def _child(self, import_id: int) -> None:
        """Run the import task as a worker would, then report its time and this process's peak memory."""
        idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        import_run(import_id)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        status = RecipientImport.objects.get(pk=import_id).status
        self.stdout.write(
            json.dumps({"seconds": seconds, "peak_mb": peak, "idle_mb": idle, "status": status})
        )


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS
