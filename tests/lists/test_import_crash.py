"""A worker killed in the middle of an import leaves the list as it was, and the import is marked failed."""

import signal
import time
from datetime import timedelta

from django.test import TransactionTestCase
from django.utils import timezone

from accounts.audit import SYSTEM
from sending.lists.importer import imports_reap
from sending.models import ImportStatus, RecipientImport
from sending.services import lists as service
from tests.base import People
from tests.lists.helpers import csv_bytes, upload
from tests.processes import shell_child


class ImportCrashTest(People, TransactionTestCase):
    def test_sigkill_while_reading_leaves_the_list_unchanged(self):
        self.create_people()
        self.account.max_recipients_per_list = 1_000_000
        self.account.save()
        recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)
        service.recipients_save(
            recipient_list=recipient_list, details=[{"e": "old@example.org"}], actor=SYSTEM
        )
        rows = [["Email", "City"], *([f"user{n}@example.org", "Hangzhou"] for n in range(300_000))]
        recipient_import = service.import_upload(
            recipient_list=recipient_list, upload=upload("big.csv", csv_bytes(rows)), actor=SYSTEM
        )
        RecipientImport.objects.filter(pk=recipient_import.pk).update(
            status=ImportStatus.QUEUED, mapping=["email", "custom:City"], mode="replace"
        )
        worker = shell_child(
            f"from sending.lists.importer import import_run; import_run({recipient_import.pk})"
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                recipient_import.refresh_from_db()
                if recipient_import.rows_read > 0:
                    break
                time.sleep(0.05)
            self.assertEqual(recipient_import.status, ImportStatus.RUNNING)
            self.assertGreater(recipient_import.rows_read, 0, "the worker never reported progress")
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        self.assertEqual(list(recipient_list.recipients.values_list("email", flat=True)), ["old@example.org"])

        # Its heartbeat stops; the every-minute reaper gives it up, with the reason.
        RecipientImport.objects.filter(pk=recipient_import.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=3)
        )
        self.assertEqual(imports_reap(), 1)
        recipient_import.refresh_from_db()
        self.assertEqual(recipient_import.status, ImportStatus.FAILED)
        self.assertIn("stopped", recipient_import.error)
        recipient_list.refresh_from_db()
        self.assertEqual(recipient_list.recipient_count, 1)
        self.assertEqual(list(recipient_list.recipients.values_list("email", flat=True)), ["old@example.org"])
