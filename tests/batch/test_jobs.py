"""Batch jobs through the services: checks, the quota pre-flight, scheduling, the fan-out (chunks, skipped
recipients, per-recipient variables at the sink, resuming without duplicates), rate, pause, resume, cancel."""

from datetime import timedelta
from unittest import mock

from django.test import TestCase, override_settings
from django.utils import timezone
from django_q.models import Schedule

from accounts.audit import SYSTEM
from accounts.errors import ServiceError
from sending.delivery.worker import deliver_due
from sending.models import BatchJob, BatchStatus, Message, MessageState
from sending.services import batch as service
from sending.services.suppressions import suppression_add
from tests.base import People
from tests.batch.helpers import BatchSetup
from tests.smtpsink import SmtpSink


class BatchJobTest(People, BatchSetup, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def setUp(self):
        self.batch_setup(recipients=5)

    def confirm(self, job: BatchJob) -> BatchJob:
        # Tasks run inline in tests: delivery waits until a test asks for it.
        with (
            mock.patch("sending.services.messages.kick_delivery"),
            self.captureOnCommitCallbacks(execute=True),
        ):
            service.job_confirm(job=job, actor=SYSTEM)
        job.refresh_from_db()
        return job

    def test_the_pre_flight_says_when_and_what_the_lists_validation_found(self):
        from sending import validation_files

        job = self.draft()
        self.assertIsNone(service.preflight(job).validation)
        with self.captureOnCommitCallbacks(execute=True):
            submitted = validation_files.submit(
                self.account, file_name="News", recipient_list=self.recipient_list
            )
        found = service.preflight(job).validation
        self.assertEqual((found.pk, found.total), (submitted.pk, 5))
        self.client.force_login(self.owner)
        page = self.client.get(f"/a/{self.account.public_id}/batch/{job.public_id}/")
        self.assertContains(page, "5 addresses validated")

    def test_the_pre_flight_runs_the_templates_checks_against_the_list_and_the_unsubscribe_option(self):
        job = self.draft(unsubscribe_link=False)
        codes = {finding.code for finding in service.preflight(job).findings}
        self.assertIn("unsubscribe", codes)  # no link of its own, and the send adds none
        self.assertNotIn("unknown_variable", codes)  # {City} is a field of the list's addresses
        job.unsubscribe_link = True
        self.assertNotIn("unsubscribe", {f.code for f in service.preflight(job).findings})
        version = self.template.approved_version
        version.html_body += "<p>{Coupon}</p>"
        version.save()
        job.refresh_from_db()
        [finding] = [f for f in service.preflight(job).findings if f.code == "unknown_variable"]
        self.assertIn("{Coupon}", finding.message)
        self.client.force_login(self.owner)
        page = self.client.get(f"/a/{self.account.public_id}/batch/{job.public_id}/")
        self.assertContains(page, 'id="preflight-checks"')
        self.assertContains(page, "The list has no field for {Coupon}")

    def test_only_a_batch_sender_and_an_approved_email_template(self):
        with self.assertRaisesMessage(ServiceError, "is a trigger address"):
            self.draft(sender=self.trigger_sender)
        self.template.approved_version = None
        self.template.save()
        with self.assertRaisesMessage(ServiceError, "has no approved version yet"):
            self.draft()
        self.assertFalse(BatchJob.objects.exists())

    def test_send_now_skips_suppressed_and_fills_each_recipients_fields(self):
        suppression_add(account=self.account, address="user1@dest.test", actor=SYSTEM)
        job = self.draft()
        numbers = service.preflight(job)
        self.assertEqual((numbers.recipients, numbers.suppressed, numbers.will_send), (5, 1, 4))
        self.assertEqual(numbers.sample["subject"], "Hello User 0")
        job = self.confirm(job)
        self.assertEqual(
            (job.status, job.queued, job.skipped, job.fanout_done), (BatchStatus.SENDING, 4, 1, True)
        )
        self.assertEqual(job.envelope.source, "batch")
        with (
            SmtpSink() as sink,
            override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
        ):
            self.assertEqual(deliver_due(max_seconds=20), {"delivered": 4})
        bodies = {m.rcpt_tos[0]: m.data for m in sink.messages}
        self.assertEqual(
            set(bodies), {"user0@dest.test", "user2@dest.test", "user3@dest.test", "user4@dest.test"}
        )
        self.assertIn(b"Subject: Hello User 3", bodies["user3@dest.test"])
        self.assertIn(b"Dear User 3 in City 3", bodies["user3@dest.test"])
        self.assertTrue(service.job_check_done(job.pk))
        job.refresh_from_db()
        self.assertEqual(job.status, BatchStatus.DONE)

    def test_a_job_over_todays_quota_is_refused_with_the_numbers_unless_spread(self):
        self.account.daily_quota = 3
        self.account.save()
        job = self.draft()
        with self.assertRaisesMessage(
            ServiceError, "5 messages to send, but only 3 are left in today's quota"
        ):
            service.job_confirm(job=job, actor=SYSTEM)
        job.spread_days = True
        service.job_save(job=job, actor=SYSTEM)
        job = self.confirm(job)
        self.assertEqual((job.queued, job.fanout_done), (3, False))
        self.assertGreater(job.waiting_until, timezone.now())  # the account's next midnight
        self.assertEqual(service.batch_tick()["resumed"], 0)  # still waiting
        tomorrow = job.waiting_until + timedelta(minutes=1)
        with mock.patch("django.utils.timezone.now", return_value=tomorrow):
            service.batch_tick()
        job.refresh_from_db()
        self.assertEqual((job.queued, job.fanout_done), (5, True))
        self.assertEqual(Message.objects.count(), 5)

    def test_a_scheduled_job_starts_at_its_time_and_can_be_edited_or_cancelled_before(self):
        at = timezone.now() + timedelta(hours=2)
        job = self.confirm(self.draft(scheduled_at=at))
        self.assertEqual(job.status, BatchStatus.SCHEDULED)
        schedule = Schedule.objects.get(name=f"batch-job:{job.public_id}")
        self.assertEqual((schedule.schedule_type, schedule.next_run), (Schedule.ONCE, at))
        service.job_start(job.pk)  # early: nothing happens
        self.assertEqual(service.batch_tick()["started"], 0)
        job.refresh_from_db()
        self.assertEqual((job.status, job.envelope_id), (BatchStatus.SCHEDULED, None))

        job.scheduled_at = at + timedelta(hours=1)
        service.job_save(job=job, actor=SYSTEM)  # edited: a draft again, to confirm with the new time
        self.assertFalse(Schedule.objects.filter(name=f"batch-job:{job.public_id}").exists())
        job = self.confirm(job)
        self.assertEqual(
            Schedule.objects.get(name=f"batch-job:{job.public_id}").next_run, at + timedelta(hours=1)
        )

        with mock.patch("django.utils.timezone.now", return_value=at + timedelta(hours=1, seconds=5)):
            self.assertEqual(service.batch_tick()["started"], 1)
        job.refresh_from_db()
        self.assertEqual((job.status, job.queued), (BatchStatus.SENDING, 5))
        self.assertFalse(Schedule.objects.filter(name=f"batch-job:{job.public_id}").exists())

        later = self.confirm(self.draft(name="later", scheduled_at=at))
        service.job_cancel(job=later, actor=SYSTEM)
        later.refresh_from_db()
        self.assertEqual(later.status, BatchStatus.CANCELLED)
        self.assertFalse(Schedule.objects.filter(name=f"batch-job:{later.public_id}").exists())

    def test_a_fan_out_whose_worker_died_resumes_without_duplicates(self):
        self.add_recipients(self.recipient_list, 7, start=5)
        job = self.draft()
        with mock.patch.object(service, "CHUNK", 4), mock.patch.object(service, "fanout"):
            self.confirm(job)  # started; its fan-out "never ran"
        with mock.patch.object(service, "CHUNK", 4):
            service.fanout(job.pk, max_seconds=0)  # one chunk, then its worker "dies" holding the lease
            BatchJob.objects.filter(pk=job.pk).update(
                fanout_owner="dead", fanout_until=timezone.now() + timedelta(minutes=1)
            )
            self.assertEqual(service.batch_tick()["resumed"], 0)  # the lease still holds
            BatchJob.objects.filter(pk=job.pk).update(fanout_until=timezone.now() - timedelta(seconds=1))
            service.batch_tick()
            service.fanout(job.pk)  # a repeated task finds nothing left
        job.refresh_from_db()
        self.assertEqual((job.queued, job.fanout_done), (12, True))
        rcpts = list(Message.objects.values_list("rcpt", flat=True))
        self.assertEqual(len(rcpts), 12)
        self.assertEqual(len(set(rcpts)), 12)

    def test_rate_spaces_messages_and_waits_for_the_next_minute(self):
        job = self.confirm(self.draft(rate_per_minute=2))
        messages = list(Message.objects.order_by("next_attempt_at"))
        self.assertEqual(len(messages), 2)
        self.assertEqual(messages[1].next_attempt_at - messages[0].next_attempt_at, timedelta(seconds=30))
        self.assertFalse(job.fanout_done)
        with mock.patch("django.utils.timezone.now", return_value=job.waiting_until + timedelta(seconds=1)):
            service.batch_tick()
        self.assertEqual(Message.objects.count(), 4)

    def test_pause_holds_messages_resume_releases_them_cancel_ends_them(self):
        job = self.confirm(self.draft())
        service.job_pause(job=job, actor=SYSTEM)
        self.assertEqual(set(Message.objects.values_list("state", flat=True)), {MessageState.PAUSED})
        self.assertEqual(deliver_due(max_seconds=5), {})  # nothing goes while paused
        with (
            mock.patch("sending.services.messages.kick_delivery"),
            self.captureOnCommitCallbacks(execute=True),
        ):
            service.job_resume(job=job, actor=SYSTEM)
        self.assertEqual(set(Message.objects.values_list("state", flat=True)), {MessageState.QUEUED})
        with self.assertRaisesMessage(ServiceError, "Only a paused batch send"):
            service.job_resume(job=job, actor=SYSTEM)
        self.assertEqual(service.job_cancel(job=job, actor=SYSTEM), 5)
        self.assertEqual(set(Message.objects.values_list("state", flat=True)), {MessageState.CANCELLED})
        job.refresh_from_db()
        self.assertEqual(job.status, BatchStatus.CANCELLED)
        self.assertEqual(deliver_due(max_seconds=5), {})

    def test_the_job_counts_opened_and_clicked_recipients(self):
        from sending import tracking

        job = self.confirm(self.draft(open_trace=True, click_trace=True))
        first, second = Message.objects.order_by("pk")[:2]
        for pk in (first.pk, first.pk, second.pk):
            tracking.record(pk, "open")
        tracking.record(second.pk, "click")
        counts = service.job_counts(job)
        self.assertEqual((counts["opened"], counts["clicked"], counts["queued"]), (2, 1, 5))
