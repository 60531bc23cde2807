"""Address validation pages: one address checked at once, a file uploaded or a recipient list validated in
the worker with a progress bar, then the breakdown by status, the result CSV, and removing the invalid and
do-not-mail addresses from the list; and the signed download of a result (GetValidateFile's FileUrl)."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.audit import Actor, audit_record
from accounts.confirm import confirm_page
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending import validation, validation_files
from sending.models import RecipientList, ValidationJob
from sending.services import lists as list_service

# What "remove the invalid ones" takes out of a list.
REMOVED_STATUSES = ("INVALID", "DONOTMAIL")


class AddressForm(forms.Form):
    email = forms.CharField(label=gettext_lazy("Email address"), max_length=320)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File (CSV or one address per line)"))
    address_column = forms.IntegerField(label=gettext_lazy("Address column"), min_value=1, max_value=1000,
                                        initial=1)  # fmt: skip
    has_header_row = forms.BooleanField(label=gettext_lazy("The first row is a header"), required=False)
    remove_duplicate = forms.BooleanField(
        label=gettext_lazy("Remove duplicates"), required=False, initial=True
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        largest = settings.VALIDATION_FILE_MAX_BYTES
        if upload.size > largest:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB.") % {"mb": largest // 1024 // 1024}
            )
        return upload


def _charge_one(request) -> bool:
    try:
        validation.reserve(request.account, validation.BASIC_COST)
    except validation.QuotaExhausted:
        messages.error(request, _("The account's address validation quota is used up."))
        return False
    return True


@account_view(Perm.VIEW)
def validation_index(request):
    can_run = request.membership.can(Perm.SEND)
    address_form, upload_form, result = AddressForm(), UploadForm(), None
    if request.method == "POST" and can_run:
        if "check" in request.POST:
            address_form = AddressForm(request.POST)
            if address_form.is_valid() and _charge_one(request):
                result = validation.Validator(request.account.pk).validate(address_form.cleaned_data["email"])
        else:
            upload_form = UploadForm(request.POST, request.FILES)
            if upload_form.is_valid():
                data = upload_form.cleaned_data
                job = validation_files.submit(
                    request.account, file_name=data["file"].name, data=data["file"].read(),
                    address_column=data["address_column"], has_header_row=data["has_header_row"],
                    remove_duplicate=data["remove_duplicate"],
                )  # fmt: skip
                details = {"file": job.file_name, "file_id": job.file_id}
                audit_record(actor=Actor.from_request(request), action="validation.start",
                             account=request.account, details=details)  # fmt: skip
                return redirect("sending:validation_detail", account_id=request.account.public_id,
                                file_id=job.file_id)  # fmt: skip
    jobs = ValidationJob.objects.filter(account=request.account).exclude(state=ValidationJob.State.DELETED)
    used = validation.usage(request.account)
    context = {
        "address_form": address_form,
        "upload_form": upload_form,
        "result": result,
        "can_run": can_run,
        "page": page_of(request, jobs.defer("result", "source_data")),
        "usage": used,
    }
    status = 400 if address_form.errors or upload_form.errors else 200
    return render(request, "sending/validation_index.html", context, status=status)


def _job(request, file_id: str) -> ValidationJob:
    return get_for_account(
        ValidationJob.objects.exclude(state=ValidationJob.State.DELETED).select_related("recipient_list"),
        request.account,
        file_id=file_id,
    )


@account_view(Perm.VIEW)
def validation_detail(request, file_id: str):
    job = _job(request, file_id)
    removable = 0
    if job.state == ValidationJob.State.COMPLETED and job.recipient_list_id:
        removable = sum(job.counts.get(s, 0) for s in REMOVED_STATUSES)
    totals = [(s, job.counts.get(s, 0)) for s in ("VALID", "CATCHALL", "UNKNOWN", "INVALID", "DONOTMAIL")]
    context = {
        "job": job,
        "rows": validation_files.breakdown(job),
        "totals": totals,
        # The doughnut of static/js/validation_chart.js: the same totals as the cards.
        "chart": {"labels": [s for s, _n in totals], "counts": [n for _s, n in totals]},
        "removable": removable,
        "can_edit": request.membership.can(Perm.EDIT_CONTENT),
    }
    return render(request, "sending/validation_detail.html", context)


@account_view(Perm.VIEW)
def validation_status(request, file_id: str):
    """Polled by the progress bar (static/js/import_progress.js)."""
    job = _job(request, file_id)
    active = job.state == ValidationJob.State.PROCESSING
    progress = 100 if not active else int(100 * job.processed / job.total) if job.total else 0
    return JsonResponse({"active": active, "progress": progress, "status_label": job.get_state_display(),
                         "rows_read": job.processed})  # fmt: skip


@account_view(Perm.VIEW)
def validation_result(request, file_id: str):
    job = _job(request, file_id)
    if job.state != ValidationJob.State.COMPLETED:
        raise Http404("not completed")
    return _csv(job)


def _csv(job: ValidationJob) -> HttpResponse:
    response = HttpResponse(validation_files.result_csv(job), content_type="text/csv; charset=utf-8")
    name = job.file_name.rsplit(".", 1)[0].replace('"', "") or "addresses"
    response["Content-Disposition"] = f'attachment; filename="{name}-validated.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@account_view(Perm.SEND)
def validation_delete(request, file_id: str):
    job = _job(request, file_id)
    back = redirect("sending:validation_detail", account_id=request.account.public_id, file_id=job.file_id)
    if request.method == "POST":
        validation_files.delete(job)
        audit_record(actor=Actor.from_request(request), action="validation.delete", account=request.account,
                     details={"file": job.file_name, "file_id": job.file_id})  # fmt: skip
        messages.success(request, _("%(name)s deleted.") % {"name": job.file_name})
        return redirect("sending:validation", account_id=request.account.public_id)
    return confirm_page(
        request,
        title=_("Delete validation"),
        question=_("Delete the validation of %(name)s?") % {"name": job.file_name},
        explanation=_("Its results go; the addresses themselves are not touched."),
        button=_("Delete"),
        back_url=back.url,
        back_label=job.file_name,
    )


@account_view(Perm.EDIT_CONTENT)
def validation_remove_invalid(request, file_id: str):
    """Remove the invalid and do-not-mail addresses a list's validation found from the list (confirmed)."""
    job = _job(request, file_id)
    if job.state != ValidationJob.State.COMPLETED or job.recipient_list is None:
        raise Http404("no list to clean")
    doomed = [
        address for address, status, _sub in validation_files.results(job) if status in REMOVED_STATUSES
    ]
    back = redirect("sending:validation_detail", account_id=request.account.public_id, file_id=job.file_id)
    if request.method == "POST":
        count = list_service.recipients_delete(recipient_list=job.recipient_list, emails=doomed,
                                               actor=Actor.from_request(request))  # fmt: skip
        messages.success(request, _("%(count)s addresses removed from %(list)s.")
                         % {"count": count, "list": job.recipient_list.name})  # fmt: skip
        return back
    return confirm_page(
        request,
        title=_("Remove invalid addresses"),
        question=_("Remove %(count)s invalid and do-not-mail addresses from %(list)s?")
        % {"count": len(doomed), "list": job.recipient_list.name},
        explanation=_(
            "They are deleted from the list; the audit log records it. The suppression list is not changed."
        ),
        button=_("Remove them"),
        back_url=back.url,
        back_label=job.file_name,
    )


@account_view(Perm.EDIT_CONTENT)
@require_POST
def list_validate(request, list_id: str):
    """Validate a recipient list's addresses in the worker."""
    recipient_list = get_for_account(RecipientList.objects.all(), request.account, public_id=list_id)
    job = validation_files.submit(
        request.account, file_name=recipient_list.name, recipient_list=recipient_list
    )
    audit_record(actor=Actor.from_request(request), action="validation.start", account=request.account,
                 target=recipient_list, details={"file_id": job.file_id})  # fmt: skip
    return redirect("sending:validation_detail", account_id=request.account.public_id, file_id=job.file_id)


def file_download(request, token: str):
    """The result CSV of a completed validation file, for whoever holds the link while it is valid."""
    job = validation_files.job_from_token(token)
    if job is None:
        raise Http404("This link has expired or the file is gone.")
    return _csv(job)
