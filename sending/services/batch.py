"""Batch jobs: saving, the pre-flight numbers, confirming, starting, the fan-out, pause, resume, cancel.

The console and the API go through here. A confirmed job starts at its time from a one-off django-q2
schedule (the every-minute `batch_tick` starts any it missed); starting gives it an Envelope with the
template's approved content, then the fan-out creates its messages in chunks of CHUNK recipients, each chunk
in ONE transaction with the job's cursor, its quota and its messages' events. A fan-out holds a lease on the
job; a worker that dies lets it expire and the tick resumes from the cursor. Messages are the envelope's,
rendered per recipient at delivery from the list's fields (templates_app.rendering).
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.models import Schedule
from django_q.tasks import async_task

from accounts.audit import Actor, audit_record
from accounts.errors import ServiceError
from accounts.models import Account
from sending.delivery import mime
from sending.models import (
    BatchJob,
    BatchStatus,
    Envelope,
    Message,
    MessageState,
    QuotaCounter,
    Recipient,
    SendType,
    ValidationJob,
)
from sending.services import messages as mail
from templates_app import checks as template_checks
from templates_app import rendering
from templates_app.models import Template, TemplateKind

CHUNK = 500
LEASE = timedelta(minutes=2)
ACTIVE_STATES = (MessageState.QUEUED, MessageState.SENDING, MessageState.DEFERRED, MessageState.PAUSED)


# -- what a job would send


@dataclass
class Preflight:
    recipients: int
    suppressed: int
    day_left: int
    month_left: int
    sample: dict | None  # the first recipient's rendered subject and HTML, and their address
    validation: ValidationJob | None = None  # the list's latest completed validation, if any
    findings: list = field(default_factory=list)  # the template's pre-flight checks (templates_app.checks)

    @property
    def will_send(self) -> int:
        return self.recipients - self.suppressed

    @property
    def fits_today(self) -> bool:
        return self.will_send <= min(self.day_left, self.month_left)


def quota_left(account: Account) -> tuple[int, int]:
    day = account.limit("daily_quota") - mail.quota_used(account, QuotaCounter.Period.DAY)
    month = account.limit("monthly_quota") - mail.quota_used(account, QuotaCounter.Period.MONTH)
    return max(0, day), max(0, month)


def _suppressed_in_list(job: BatchJob) -> int:
    """How many of the list's addresses are on the account's suppression list (not expired)."""
    from sending.models import Suppression, suppression_scopes

    now = timezone.now()
    active = Suppression.objects.filter(
        account=job.account, scope__in=suppression_scopes(job.sender.address)
    ).exclude(expires_at__lt=now)
    assert job.recipient_list is not None  # asked only of a job with a list
    return job.recipient_list.recipients.filter(email_key__in=active.values("address")).count()


def preflight(job: BatchJob) -> Preflight:
    day_left, month_left = quota_left(job.account)
    recipients = job.recipient_list.recipients.count() if job.recipient_list else 0
    sample = None
    version = job.template.approved_version if job.template else None
    first = job.recipient_list.recipients.order_by("pk").first() if job.recipient_list else None
    if version is not None and first is not None:
        data = first.variables()
        html_body = rendering.render_html(version.html_body, data)
        if job.unsubscribe_link:  # as the real mail gets it (each recipient's own link in place of this one)
            example = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/u/…"
            html_body = mime.with_unsubscribe(Envelope(html_body=html_body), example, "")[0].html_body
        sample = {
            "to": first.email,
            "subject": rendering.render_subject(version.subject, data),
            "html": html_body,
        }
    suppressed = _suppressed_in_list(job) if job.recipient_list else 0
    validated = None
    if job.recipient_list is not None:
        validated = (
            job.recipient_list.validations.filter(state="completed").defer("result", "source_data").first()
        )
    findings = []
    if version is not None and job.recipient_list is not None:
        findings = template_checks.check(
            html=version.html_body,
            text=version.text_body,
            batch=True,
            unsubscribe_added=job.unsubscribe_link,
            list_variables=_list_variables(job.recipient_list, version),
        )
    return Preflight(recipients, suppressed, day_left, month_left, sample, validated, findings)


def _list_variables(recipient_list, version) -> set[str]:
    """The variables of the template that the list has: DirectMail's fields always, a custom one when at
    least one of its addresses has it."""
    used = rendering.variables_in(version.subject, version.html_body, version.text_body)
    have = set(rendering.STANDARD_VARIABLES)
    for name in used:
        if name not in have and recipient_list.recipients.filter(custom__has_key=name).exists():
            have.add(name)
    return have


# -- saving and confirming


def _check(job: BatchJob) -> None:
    if job.template is None or job.template.account_id != job.account_id:
        raise ServiceError(_("Choose a template."))
    if job.template.kind != TemplateKind.EMAIL:
        raise ServiceError(_("%(name)s is an SMS template; batch sends send email.") % {"name": job.template})
    if job.template.approved_version_id is None:
        raise ServiceError(_("%(name)s has no approved version yet.") % {"name": job.template})
    if job.recipient_list is None or job.recipient_list.account_id != job.account_id:
        raise ServiceError(_("Choose a recipient list."))
    sender = job.sender
    if sender.account_id != job.account_id or sender.deleted_at is not None:
        raise ServiceError(_("Choose a sender address."))
    if sender.send_type != SendType.BATCH:
        raise ServiceError(
            _("%(address)s is a trigger address; batch sends go from batch addresses.")
            % {"address": sender.address}
        )
    if not sender.domain.can_send:
        raise ServiceError(
            _("%(domain)s is not verified: sending from it is stopped.") % {"domain": sender.domain.name}
        )
    if job.tag is not None and job.tag.account_id != job.account_id:
        raise ServiceError(_("Choose a tag of this account."))
    if job.rate_per_minute is not None and job.rate_per_minute < 1:
        raise ServiceError(_("The rate is at least 1 per minute."))


@transaction.atomic
def job_save(*, job: BatchJob, actor: Actor) -> BatchJob:
    """Create or change a job that has not started (a draft, or a scheduled one: it becomes a draft again,
    to be confirmed with the new numbers)."""
    if (
        job.pk
        and not BatchJob.objects.filter(
            pk=job.pk, status__in=[BatchStatus.DRAFT, BatchStatus.SCHEDULED]
        ).exists()
    ):
        raise ServiceError(_("This batch send has started; it can no longer be changed."))
    _check(job)
    creating = job.pk is None
    if not creating:
        _unschedule(job)
    job.status = BatchStatus.DRAFT
    job.save()
    audit_record(
        actor=actor, action="batch.create" if creating else "batch.update", account=job.account, target=job
    )
    return job


def _schedule_name(job: BatchJob) -> str:
    return f"batch-job:{job.public_id}"  # not directmail.*: sync_schedules leaves it alone


def _unschedule(job: BatchJob) -> None:
    Schedule.objects.filter(name=_schedule_name(job)).delete()


class QuotaTooSmall(ServiceError):
    code = "QuotaExhausted"


@transaction.atomic
def job_confirm(*, job: BatchJob, actor: Actor, start_now: bool = False) -> BatchJob:
    """Send a draft now or at its time. Refused when it does not fit the quota left today (with the
    numbers), unless it may spread over several days. `start_now`: a job for now gets its envelope (its
    EnvId) in this transaction and its fan-out runs in the worker (the API answers with the EnvId)."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.status != BatchStatus.DRAFT:
        raise ServiceError(_("Only a draft can be confirmed."))
    _check(job)
    numbers = preflight(job)
    if numbers.will_send == 0:
        raise ServiceError(_("Nobody to send to: the list is empty or every address is suppressed."))
    if not numbers.fits_today and not job.spread_days:
        raise QuotaTooSmall(
            _(
                "%(count)s messages to send, but only %(left)s are left in today's quota. Choose to spread "
                "the send over several days, or send to a smaller list."
            )
            % {"count": numbers.will_send, "left": min(numbers.day_left, numbers.month_left)}
        )
    now = timezone.now()
    if job.scheduled_at and job.scheduled_at > now:
        job.status = BatchStatus.SCHEDULED
        Schedule.objects.create(
            name=_schedule_name(job),
            func="sending.tasks.batch_job_start",
            args=repr(job.pk),
            schedule_type=Schedule.ONCE,
            repeats=1,
            next_run=job.scheduled_at,
        )
    else:
        job.status = BatchStatus.SCHEDULED
        job.scheduled_at = now
        if not start_now:
            transaction.on_commit(lambda: async_task("sending.tasks.batch_job_start", job.pk))
    job.save(update_fields=["status", "scheduled_at"])
    if start_now and job.scheduled_at <= now:
        _begin(job.pk)
        job.refresh_from_db()
        transaction.on_commit(lambda: async_task("sending.tasks.batch_fanout", job.pk))
    audit_record(
        actor=actor, action="batch.confirm", account=job.account, target=job,
        details={"recipients": numbers.will_send, "at": job.scheduled_at.isoformat()},
    )  # fmt: skip
    return job


@transaction.atomic
def job_delete(*, job: BatchJob, actor: Actor) -> None:
    if job.status not in (BatchStatus.DRAFT, BatchStatus.SCHEDULED):
        raise ServiceError(_("A batch send that has started stays on record; cancel it instead."))
    _unschedule(job)
    audit_record(actor=actor, action="batch.delete", account=job.account, target=job)
    job.delete()


def job_record_inline(
    *, prepared: mail.PreparedMail, enqueued: mail.Enqueued, template: Template | None, actor: Actor
) -> BatchJob:
    """The job of mail sent at once to inline recipients (the API's BatchSendMail with Receivers), stored
    in that mail's transaction: the batch-send pages list it like any other, and the audit log has it as
    created and confirmed, as it has a job from the console."""
    now = timezone.now()
    recipients = len(prepared.recipients)
    job = BatchJob.objects.create(
        account=prepared.account,
        name=f"BatchSendMail {enqueued.env_id}",
        template=template,
        sender=prepared.sender,
        tag=prepared.tag,
        status=BatchStatus.SENDING,
        envelope_id=enqueued.envelope_id,
        unsubscribe_link=False,
        scheduled_at=now,
        started_at=now,
        fanout_done=True,
        total=recipients,
        queued=enqueued.accepted,
        skipped=enqueued.invalid,
    )
    audit_record(actor=actor, action="batch.create", account=job.account, target=job)
    audit_record(
        actor=actor, action="batch.confirm", account=job.account, target=job,
        details={"recipients": enqueued.accepted, "at": now.isoformat()},
    )  # fmt: skip
    return job


# -- starting and the fan-out


def job_start(job_id: int) -> None:
    """The task a job's schedule (or confirming it for now) runs: its envelope, then the fan-out."""
    with transaction.atomic():
        started = _begin(job_id)
    if started:
        fanout(job_id)


def _begin(job_id: int) -> bool:
    """Give a scheduled job whose time has come its envelope and make it sending (call in a transaction);
    False when it is not to start (cancelled, changed, started already, early) or cannot (failed)."""
    now = timezone.now()
    job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.status != BatchStatus.SCHEDULED:
        return False
    if job.scheduled_at and job.scheduled_at > now + timedelta(seconds=1):
        return False  # its time was moved; the new schedule starts it
    try:
        _check(job)
    except ServiceError as exc:
        job.status, job.error, job.finished_at = BatchStatus.FAILED, str(exc), now
        job.save(update_fields=["status", "error", "finished_at"])
        return False
    # _check made sure of these
    assert job.template is not None and job.recipient_list is not None
    version = job.template.approved_version
    assert version is not None
    job.envelope = Envelope.objects.create(
        env_id=mail.new_env_id(),
        account=job.account,
        sender=job.sender,
        tag=job.tag,
        tag_name=job.tag.name if job.tag else "",
        source=Envelope.Source.BATCH,
        subject=version.subject,
        html_body=version.html_body,
        text_body=version.text_body,
        from_alias=version.from_alias,
        templated=True,
        click_trace=job.click_trace,
        open_trace=job.open_trace,
        unsubscribe_link=job.unsubscribe_link,
        unsubscribe_level=job.unsubscribe_level,
        reply_to=job.reply_to,
        reply_to_alias=job.reply_to_alias if job.reply_to else "",
        headers=job.headers,
        config_set_id=job.sender.config_set_id,
        ip_pool_id=job.ip_pool_id,
    )
    job.status, job.started_at = BatchStatus.SENDING, now
    job.total = job.recipient_list.recipients.count()
    job.save()
    _unschedule(job)
    return True


def _next_midnight(account: Account) -> datetime:
    zone = ZoneInfo(account.time_zone)
    tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, datetime.min.time(), tzinfo=zone)


def fanout(job_id: int, *, max_seconds: float = 240) -> None:
    """Create the job's messages chunk by chunk until the list is done, the job stops, its quota or rate
    says wait (waiting_until; the tick resumes it), or max_seconds pass (the tick goes on)."""
    owner = secrets.token_hex(8)
    now = timezone.now()
    claimed = (
        BatchJob.objects.filter(pk=job_id, status=BatchStatus.SENDING, fanout_done=False)
        .exclude(fanout_until__gt=now)
        .exclude(waiting_until__gt=now)
        .update(fanout_owner=owner, fanout_until=now + LEASE, waiting_until=None)
    )
    if not claimed:
        return
    deadline = timezone.now() + timedelta(seconds=max_seconds)
    while timezone.now() < deadline and _fanout_chunk(job_id, owner):
        pass
    BatchJob.objects.filter(pk=job_id, fanout_owner=owner).update(fanout_owner="", fanout_until=None)


def _fanout_chunk(job_id: int, owner: str) -> bool:
    """One chunk in one transaction; False when there is nothing more to do now."""
    with transaction.atomic():
        job = (
            BatchJob.objects.select_for_update(of=("self",))
            .select_related("account", "sender__domain", "envelope")
            .get(pk=job_id)
        )
        if job.status != BatchStatus.SENDING or job.fanout_owner != owner or job.fanout_done:
            return False
        size = CHUNK if job.rate_per_minute is None else min(CHUNK, job.rate_per_minute)
        recipients = (
            list(
                Recipient.objects.filter(
                    recipient_list_id=job.recipient_list_id, pk__gt=job.fanout_cursor
                ).order_by("pk")[:size]
            )
            if job.recipient_list_id
            else []
        )
        now = timezone.now()
        if not recipients:
            job.fanout_done = True
            job.save(update_fields=["fanout_done"])
            transaction.on_commit(lambda: job_check_done(job_id))
            return False
        suppressed = mail.suppressed_among(job.account_id, [r.email for r in recipients], job.sender.address)
        eligible = [r for r in recipients if r.email_key not in suppressed]
        day_left, month_left = quota_left(job.account)
        room = min(day_left, month_left)
        if len(eligible) > room:
            # Take what the quota allows; the rest waits for the quota's next day.
            cut = eligible[room] if room < len(eligible) else None
            recipients = [r for r in recipients if cut is None or r.pk < cut.pk]
            eligible = eligible[:room]
            job.waiting_until = _next_midnight(job.account)
        spacing = timedelta(minutes=1) / job.rate_per_minute if job.rate_per_minute else timedelta(0)
        envelope = job.envelope
        assert envelope is not None  # a sending job has its envelope
        envelope.account, envelope.sender = job.account, job.sender  # loaded with the job
        try:
            messages = mail.messages_add(
                envelope, [(r.email, r.variables()) for r in eligible], spacing=spacing
            )
        except mail.QuotaExhausted:
            job.waiting_until = _next_midnight(job.account)
            job.save(update_fields=["waiting_until"])
            return False
        if recipients:
            job.fanout_cursor = recipients[-1].pk
        job.queued += len(messages)
        job.skipped += len(recipients) - len(eligible)
        job.fanout_until = now + LEASE
        if job.rate_per_minute and job.waiting_until is None:
            job.waiting_until = now + spacing * len(messages)  # the next chunk when these are due
        job.save()
        return job.waiting_until is None


# -- while it runs


def job_counts(job: BatchJob) -> dict[str, int]:
    """Messages of the job by state, and the job's own counters."""
    counts = dict.fromkeys([*MessageState.values, "opened", "clicked"], 0)
    if job.envelope_id:
        messages = Message.objects.filter(envelope_id=job.envelope_id)
        for row in messages.values("state").annotate(n=Count("pk")):
            counts[row["state"]] = row["n"]
        counts.update(messages.aggregate(opened=Count("first_opened_at"), clicked=Count("first_clicked_at")))
    counts.update(total=job.total, queued_total=job.queued, skipped=job.skipped)
    return counts


def job_check_done(job_id: int) -> bool:
    """Mark a sending job done when its fan-out finished and none of its messages is still on its way."""
    job = BatchJob.objects.filter(pk=job_id, status=BatchStatus.SENDING, fanout_done=True).first()
    if job is None:
        return False
    if (
        job.envelope_id
        and Message.objects.filter(envelope_id=job.envelope_id, state__in=ACTIVE_STATES).exists()
    ):
        return False
    return bool(
        BatchJob.objects.filter(pk=job_id, status=BatchStatus.SENDING).update(
            status=BatchStatus.DONE, finished_at=timezone.now()
        )
    )


@transaction.atomic
def job_pause(*, job: BatchJob, actor: Actor) -> None:
    """Stop new deliveries at once: the fan-out stops at its next chunk, waiting messages are held."""
    if not BatchJob.objects.filter(pk=job.pk, status=BatchStatus.SENDING).update(status=BatchStatus.PAUSED):
        raise ServiceError(_("Only a batch send that is sending can be paused."))
    if job.envelope_id:
        Message.objects.filter(
            envelope_id=job.envelope_id, state__in=[MessageState.QUEUED, MessageState.DEFERRED]
        ).update(state=MessageState.PAUSED)
    audit_record(actor=actor, action="batch.pause", account=job.account, target=job)


@transaction.atomic
def job_resume(*, job: BatchJob, actor: Actor) -> None:
    if not BatchJob.objects.filter(pk=job.pk, status=BatchStatus.PAUSED).update(
        status=BatchStatus.SENDING, fanout_owner="", fanout_until=None
    ):
        raise ServiceError(_("Only a paused batch send can be resumed."))
    if job.envelope_id:
        Message.objects.filter(envelope_id=job.envelope_id, state=MessageState.PAUSED).update(
            state=MessageState.QUEUED, next_attempt_at=timezone.now()
        )
    audit_record(actor=actor, action="batch.resume", account=job.account, target=job)
    transaction.on_commit(mail.kick_delivery, robust=True)
    transaction.on_commit(lambda: async_task("sending.tasks.batch_fanout", job.pk))


@transaction.atomic
def job_cancel(*, job: BatchJob, actor: Actor) -> int:
    """Stop the job for good: what was not sent yet is cancelled. Returns how many messages that was."""
    now = timezone.now()
    stoppable = [BatchStatus.SCHEDULED, BatchStatus.SENDING, BatchStatus.PAUSED]
    if not BatchJob.objects.filter(pk=job.pk, status__in=stoppable).update(
        status=BatchStatus.CANCELLED, finished_at=now
    ):
        raise ServiceError(_("This batch send is not running."))
    _unschedule(job)
    cancelled = 0
    if job.envelope_id:
        cancelled = Message.objects.filter(
            envelope_id=job.envelope_id,
            state__in=[MessageState.QUEUED, MessageState.DEFERRED, MessageState.PAUSED],
        ).update(state=MessageState.CANCELLED, finished_at=now, last_error="batch send cancelled")
    audit_record(
        actor=actor, action="batch.cancel", account=job.account, target=job, details={"cancelled": cancelled}
    )
    return cancelled


def batch_tick() -> dict[str, int]:
    """Every minute: start scheduled jobs whose time came (a lost one-off schedule), go on with fan-outs
    that wait or whose worker died, and mark finished jobs done."""
    now = timezone.now()
    started = 0
    for job_id in BatchJob.objects.filter(status=BatchStatus.SCHEDULED, scheduled_at__lte=now).values_list(
        "pk", flat=True
    ):
        job_start(job_id)
        started += 1
    resumed = 0
    pending = BatchJob.objects.filter(status=BatchStatus.SENDING, fanout_done=False)
    for job_id in (
        pending.exclude(fanout_until__gt=now).exclude(waiting_until__gt=now).values_list("pk", flat=True)
    ):
        fanout(job_id)
        resumed += 1
    done = sum(
        job_check_done(pk)
        for pk in BatchJob.objects.filter(status=BatchStatus.SENDING, fanout_done=True).values_list(
            "pk", flat=True
        )
    )
    return {"started": started, "resumed": resumed, "done": done}
