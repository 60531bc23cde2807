"""A worker SIGKILLed in the middle of a fan-out: the tick resumes from the job's cursor and every
recipient gets exactly one message."""

import signal
import time
from datetime import timedelta
from unittest import mock

from django.test import TransactionTestCase
from django.utils import timezone

from accounts.audit import SYSTEM
from sending.models import BatchJob, BatchStatus, Message, Recipient
from sending.services import batch as service
from tests.base import People
from tests.batch.helpers import BatchSetup
from tests.processes import shell_child

RECIPIENTS = 20_000


class FanoutCrashTest(People, BatchSetup, TransactionTestCase):
    def test_sigkill_mid_fan_out_resumes_without_duplicates(self):
        self.create_people()
        self.account.max_recipients_per_list = RECIPIENTS
        self.account.daily_quota = self.account.monthly_quota = 10**6
        self.account.save()
        self.batch_setup(recipients=0)
        Recipient.objects.bulk_create(
            [
                Recipient(
                    recipient_list=self.recipient_list, email=f"u{n}@dest.test", email_key=f"u{n}@dest.test"
                )
                for n in range(RECIPIENTS)
            ],
            batch_size=2000,
        )
        job = self.draft()
        with mock.patch("django_q.tasks.async_task"), mock.patch("sending.services.batch.async_task"):
            service.job_confirm(job=job, actor=SYSTEM)  # confirmed for now; its start task "is queued"
        # Its delivery kicks go to the broker, where nothing picks them up.
        worker = shell_child(f"from sending.services.batch import job_start; job_start({job.pk})")
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job.refresh_from_db()
                if job.queued >= service.CHUNK:
                    break
                time.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        job.refresh_from_db()
        self.assertEqual(job.status, BatchStatus.SENDING)
        self.assertGreaterEqual(job.queued, service.CHUNK)
        self.assertLess(job.queued, RECIPIENTS, "the worker finished before it could be killed")
        self.assertEqual(Message.objects.count(), job.queued)  # the cursor and the messages agree

        # Its lease runs out; the every-minute tick goes on from the cursor.
        BatchJob.objects.filter(pk=job.pk).update(fanout_until=timezone.now() - timedelta(seconds=1))
        with mock.patch("sending.services.messages.kick_delivery"):
            service.batch_tick()
        job.refresh_from_db()
        self.assertEqual((job.queued, job.fanout_done), (RECIPIENTS, True))
        self.assertEqual(Message.objects.count(), RECIPIENTS)
        self.assertEqual(Message.objects.values("rcpt").distinct().count(), RECIPIENTS)
