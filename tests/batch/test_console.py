"""The batch-send pages: the form, the pre-flight check, confirming, live numbers, pause, resume, cancel."""

from datetime import timedelta
from unittest import mock
from zoneinfo import ZoneInfo

from django.utils import timezone

from sending.models import BatchJob, BatchStatus, Message, MessageState
from tests.base import AccountTestCase
from tests.batch.helpers import BatchSetup


class BatchPagesTest(BatchSetup, AccountTestCase):
    def setUp(self):
        self.batch_setup(recipients=4)
        self.client.force_login(self.operator)

    def form(self, **changes) -> dict:
        data = {
            "name": "November news",
            "template": self.template.public_id,
            "recipient_list": self.recipient_list.public_id,
            "sender": self.sender.public_id,
            "unsubscribe_link": "on",
            "unsubscribe_level": "domain",
            "when": "now",
        }
        data.update(changes)
        return data

    def test_create_check_confirm_and_watch(self):
        page = self.client.post(self.url("sending:batch_job_create"), self.form())
        job = BatchJob.objects.get()
        self.assertRedirects(page, self.url("sending:batch_job", job.public_id))
        page = self.client.get(self.url("sending:batch_job", job.public_id))
        self.assertContains(page, "Before you confirm")
        self.assertContains(page, '<td class="text-end" id="will-send">4</td>', html=True)
        self.assertContains(page, "The first recipient, user0@dest.test, gets: <strong>Hello User 0</strong>")
        # The preview is the mail as it goes out: with its unsubscribe footer.
        self.assertContains(page, "Do not want these emails? Unsubscribe")
        with (
            mock.patch("sending.services.messages.kick_delivery"),
            self.captureOnCommitCallbacks(execute=True),
        ):
            self.client.post(self.url("sending:batch_job_confirm", job.public_id))
        job.refresh_from_db()
        self.assertEqual((job.status, job.queued), (BatchStatus.SENDING, 4))
        status = self.client.get(self.url("sending:batch_job_status", job.public_id)).json()
        self.assertEqual((status["status"], status["counts"]["queued"], status["percent"]), ("sending", 4, 0))
        page = self.client.get(self.url("sending:batch_job", job.public_id))
        self.assertContains(page, "user3@dest.test")
        self.client.post(self.url("sending:batch_job_pause", job.public_id))
        self.assertEqual(Message.objects.filter(state=MessageState.PAUSED).count(), 4)
        self.client.post(self.url("sending:batch_job_resume", job.public_id))
        self.assertEqual(Message.objects.filter(state=MessageState.QUEUED).count(), 4)
        self.assertContains(
            self.client.get(self.url("sending:batch_job_cancel", job.public_id)), "Cancel November news?"
        )
        self.client.post(self.url("sending:batch_job_cancel", job.public_id))
        status = self.client.get(self.url("sending:batch_job_status", job.public_id)).json()
        self.assertEqual(
            (status["status"], status["counts"]["cancelled"], status["active"]), ("cancelled", 4, False)
        )
        self.assertContains(self.client.get(self.url("sending:batch_jobs")), "November news")

    def test_a_time_in_the_accounts_zone(self):
        self.account.time_zone = "Asia/Shanghai"
        self.account.save()
        tomorrow = (timezone.now() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai")).date()
        page = self.client.post(
            self.url("sending:batch_job_create"), self.form(when="later", scheduled_at=f"{tomorrow}T09:00")
        )
        self.assertEqual(page.status_code, 302)
        job = BatchJob.objects.get()
        self.assertEqual((job.scheduled_at.astimezone(ZoneInfo("UTC")).hour, job.scheduled_at.minute), (1, 0))
        past = self.client.post(
            self.url("sending:batch_job_create"), self.form(when="later", scheduled_at="2020-01-01T09:00")
        )
        self.assertContains(past, "That time has passed.", status_code=400)

    def test_refusals_are_form_errors(self):
        page = self.client.post(
            self.url("sending:batch_job_create"), self.form(sender=self.trigger_sender.public_id)
        )
        self.assertEqual(page.status_code, 400)  # not a choice: only batch addresses are offered
        self.account.daily_quota = 2
        self.account.save()
        self.client.post(self.url("sending:batch_job_create"), self.form())
        job = BatchJob.objects.get()
        page = self.client.get(self.url("sending:batch_job", job.public_id))
        self.assertContains(page, "4 messages, but 2 left in today's quota: confirming is refused")
        page = self.client.post(self.url("sending:batch_job_confirm", job.public_id), follow=True)
        self.assertContains(page, "4 messages to send, but only 2 are left in today&#x27;s quota")
        job.refresh_from_db()
        self.assertEqual(job.status, BatchStatus.DRAFT)

    def test_a_viewer_sees_but_cannot_send(self):
        self.client.post(self.url("sending:batch_job_create"), self.form())
        job = BatchJob.objects.get()
        self.client.force_login(self.viewer)
        self.assertContains(self.client.get(self.url("sending:batch_job", job.public_id)), "November news")
        self.assertEqual(
            self.client.post(self.url("sending:batch_job_confirm", job.public_id)).status_code, 403
        )
        self.assertEqual(self.client.get(self.url("sending:batch_job_create")).status_code, 403)

    def test_a_list_in_use_by_a_running_send_cannot_be_deleted(self):
        self.client.post(
            self.url("sending:batch_job_create"), self.form(when="later", scheduled_at="2099-01-01T09:00")
        )
        job = BatchJob.objects.get()
        self.client.post(self.url("sending:batch_job_confirm", job.public_id))
        page = self.client.post(
            self.url("sending:recipient_list_delete", self.recipient_list.public_id), follow=True
        )
        self.assertContains(page, "The batch send November news uses this list")
        self.assertTrue(type(self.recipient_list).objects.filter(pk=self.recipient_list.pk).exists())
