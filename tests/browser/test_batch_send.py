"""A batch send in a browser: an operator schedules it a few minutes ahead from the form, checks the
pre-flight numbers and confirms; when its time comes (django-q2's scheduler runs its one-off schedule) the
page shows it start and finish with the numbers, and the mail is at the receiving server."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from accounts.audit import SYSTEM, Actor
from accounts.models import Membership, User
from accounts.services import user_signup
from sending.models import BatchJob, BatchStatus
from sending.services.lists import list_create, recipients_save
from sending.services.senders import sender_address_create
from templates_app.services import template_create, version_approve, version_submit
from tests.browser.conftest import log_in, screenshot
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


def test_schedule_a_minute_ahead_watch_it_start_and_finish(new_page):
    owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM
    )
    operator = User.objects.create_user(email="ops@example.com", password=PASSWORD)
    Membership.objects.create(account=account, user=operator, role="operator")
    domain = verified_domain(account, "mail.shop.example")
    sender_address_create(account=account, domain=domain, local_part="news", send_type="batch", actor=SYSTEM)
    template = template_create(
        account=account,
        name="November",
        subject="News for {UserName}",
        html_body="<p>Hi {UserName}</p>",
        actor=SYSTEM,
    )
    version_approve(
        version=version_submit(version=template.latest_version(), actor=SYSTEM), actor=Actor(user=owner)
    )
    members = list_create(account=account, name="会员", actor=SYSTEM)
    recipients_save(
        recipient_list=members,
        details=[{"e": f"user{n}@dest.test", "u": f"User {n}"} for n in range(3)],
        actor=SYSTEM,
    )

    with (
        SmtpSink() as sink,
        override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
    ):
        page = new_page()
        log_in(page, "ops@example.com", PASSWORD)
        page.get_by_role("link", name="Batch sends").first.click()
        page.get_by_role("link", name="New batch send").click()
        page.get_by_label("Name").fill("November news")
        page.get_by_label("Template").select_option(label="November")
        page.get_by_label("Recipient list").select_option(label="会员")
        page.get_by_label("At a time").check()
        # Whole minutes only in the form: three ahead is at least two ahead once the seconds are dropped, so
        # the time cannot have passed when the form is saved ("That time has passed" near a minute's end).
        start = (timezone.now() + timedelta(minutes=3)).astimezone(ZoneInfo(account.time_zone))
        page.get_by_label("Send at").fill(start.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Save and check").click()

        page.locator("#preflight").wait_for()
        assert page.locator("#will-send").inner_text() == "3"
        screenshot(page, "batch-preflight")
        page.get_by_role("button", name="Confirm: send at").click()
        page.get_by_text("Starts at").wait_for()
        assert page.locator("[data-job-status]").inner_text() == "Scheduled"
        job = BatchJob.objects.get()
        assert job.status == BatchStatus.SCHEDULED

        # A minute later: the time comes, and django-q2's scheduler runs the job's one-off schedule.
        # (The install's own schedules, such as the daily DNS recheck, are not part of this test.)
        Schedule.objects.exclude(name=f"batch-job:{job.public_id}").update(
            next_run=timezone.now() + timedelta(days=1)
        )
        Schedule.objects.filter(name=f"batch-job:{job.public_id}").update(next_run=timezone.now())
        BatchJob.objects.filter(pk=job.pk).update(scheduled_at=timezone.now())
        scheduler()
        page.locator("[data-job-status]", has_text="Done").wait_for()  # the page noticed by itself
        counts = page.locator("#batch-counts")
        counts.locator("[data-count=delivered]", has_text="3").wait_for()
        assert counts.locator("[data-count=total]").inner_text() == "3"
        screenshot(page, "batch-done")
        page.locator("#batch-log").get_by_text("user2@dest.test").wait_for()

    assert sorted(m.rcpt_tos[0] for m in sink.messages) == [
        "user0@dest.test",
        "user1@dest.test",
        "user2@dest.test",
    ]
