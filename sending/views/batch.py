"""Batch-send pages: the list of jobs, the form, the pre-flight check before confirming, live progress,
pause, resume, cancel. Everyone may look; creating and running jobs needs SEND."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending.forms import BatchJobForm
from sending.models import BatchJob, BatchStatus, Message
from sending.services import batch as service

FIELDS = (
    "name", "template", "recipient_list", "sender", "tag", "unsubscribe_link", "unsubscribe_level",
    "open_trace", "click_trace", "rate_per_minute", "scheduled_at", "spread_days",
)  # fmt: skip


def _job(request, job_id: str) -> BatchJob:
    return get_for_account(
        BatchJob.objects.select_related("template", "recipient_list", "sender", "tag"),
        request.account,
        public_id=job_id,
    )


def _to_job(request, job: BatchJob):
    return redirect("sending:batch_job", account_id=request.account.public_id, job_id=job.public_id)


@account_view(Perm.VIEW)
def job_list(request):
    jobs = request.account.batch_jobs.select_related("template", "recipient_list", "sender")
    if status := request.GET.get("status"):
        jobs = jobs.filter(status=status)
    context = {
        "page": page_of(request, jobs),
        "can_send": request.membership.can(Perm.SEND),
        "statuses": BatchStatus.choices,
    }
    return render(request, "sending/batch_list.html", context)


def _save(request, form: BatchJobForm, job: BatchJob):
    for name in FIELDS:
        setattr(job, name, form.cleaned_data[name])
    try:
        return service.job_save(job=job, actor=Actor.from_request(request))
    except ServiceError as exc:
        form.add_error(None, str(exc))
        return None


@account_view(Perm.SEND)
def job_create(request):
    form = BatchJobForm(request.POST or None, account=request.account)
    if request.method == "POST" and form.is_valid():
        job = _save(request, form, BatchJob(account=request.account, created_by=request.user))
        if job is not None:
            return _to_job(request, job)
    context = {"form": form, "job": None, "ready": _ready(request)}
    return render(request, "sending/batch_form.html", context, status=400 if form.errors else 200)


def _ready(request) -> dict[str, bool]:
    """What a batch send needs, for the form's empty states."""
    from templates_app.models import Template

    account = request.account
    return {
        "template": Template.objects.filter(account=account, approved_version__isnull=False).exists(),
        "list": account.recipient_lists.exists(),
        "sender": account.sender_addresses.alive().filter(send_type="batch").exists(),
    }


@account_view(Perm.SEND)
def job_edit(request, job_id: str):
    job = _job(request, job_id)
    if not job.is_editable:
        messages.warning(request, _("This batch send has started; it can no longer be changed."))
        return _to_job(request, job)
    initial = {name: getattr(job, name) for name in FIELDS}
    initial["when"] = "later" if job.scheduled_at else "now"
    form = BatchJobForm(request.POST or None, account=request.account, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form, job) is not None:
        messages.info(request, _("Saved. Check the numbers again and confirm."))
        return _to_job(request, job)
    context = {"form": form, "job": job, "ready": _ready(request)}
    return render(request, "sending/batch_form.html", context, status=400 if form.errors else 200)


@account_view(Perm.VIEW)
def job_detail(request, job_id: str):
    job = _job(request, job_id)
    context = {
        "job": job,
        "can_send": request.membership.can(Perm.SEND),
        "preflight": service.preflight(job) if job.status == BatchStatus.DRAFT else None,
        "counts": service.job_counts(job),
    }
    if job.envelope_id:
        log = Message.objects.filter(envelope_id=job.envelope_id).order_by("-pk")
        if state := request.GET.get("state"):
            log = log.filter(state=state)
        context["page"] = page_of(request, log, per_page=50)
    return render(request, "sending/batch_detail.html", context)


@account_view(Perm.VIEW)
def job_status(request, job_id: str):
    job = _job(request, job_id)
    if job.status == BatchStatus.SENDING and job.fanout_done:
        service.job_check_done(job.pk)
        job.refresh_from_db()
    counts = service.job_counts(job)
    eligible = max(1, job.total - job.skipped)
    finished = sum(counts[s] for s in ("delivered", "failed", "invalid", "cancelled"))
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "counts": counts,
            "percent": min(100, round(100 * finished / eligible)) if job.total else 0,
            "active": job.status in (BatchStatus.SCHEDULED, BatchStatus.SENDING, BatchStatus.PAUSED),
        }
    )


def _act(request, job: BatchJob, act, done: str):
    if request.method != "POST":
        return _to_job(request, job)
    try:
        act(job=job, actor=Actor.from_request(request))
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return _to_job(request, job)


@account_view(Perm.SEND)
def job_confirm(request, job_id: str):
    job = _job(request, job_id)
    return _act(
        request, job, service.job_confirm, _("Confirmed: %(name)s will be sent.") % {"name": job.name}
    )


@account_view(Perm.SEND)
def job_pause(request, job_id: str):
    job = _job(request, job_id)
    return _act(request, job, service.job_pause, _("Paused: nothing more goes out until you resume."))


@account_view(Perm.SEND)
def job_resume(request, job_id: str):
    job = _job(request, job_id)
    return _act(request, job, service.job_resume, _("Resumed where it stopped."))


@account_view(Perm.SEND)
def job_cancel(request, job_id: str):
    job = _job(request, job_id)
    if request.method == "POST":
        return _act(request, job, service.job_cancel, _("Cancelled: what was not sent yet will not be sent."))
    return confirm_page(
        request,
        title=_("Cancel batch send"),
        question=_("Cancel %(name)s?") % {"name": job.name},
        explanation=_("Messages already sent stay sent; the rest are not sent. This cannot be undone."),
        button=_("Cancel the send"),
        back_url=reverse("sending:batch_job", args=[request.account.public_id, job.public_id]),
        back_label=job.name,
    )


@account_view(Perm.SEND)
def job_delete(request, job_id: str):
    job = _job(request, job_id)
    back = reverse("sending:batch_jobs", args=[request.account.public_id])
    if request.method == "POST":
        try:
            service.job_delete(job=job, actor=Actor.from_request(request))
        except ServiceError as exc:
            messages.error(request, str(exc))
            return _to_job(request, job)
        messages.success(request, _("%(name)s deleted.") % {"name": job.name})
        return redirect(back)
    return confirm_page(
        request,
        title=_("Delete batch send"),
        question=_("Delete %(name)s?") % {"name": job.name},
        explanation=_("It has not started; nothing was sent."),
        button=_("Delete"),
        back_url=back,
        back_label=_("Batch sends"),
    )
