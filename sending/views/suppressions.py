"""The suppression list page: search, add, remove, import and export."""

import csv
from datetime import datetime, time

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending.forms import SuppressionForm, SuppressionImportForm
from sending.models import Suppression
from sending.services import suppressions as service


@account_view(Perm.VIEW)
def suppression_list(request):
    account = request.account
    can_edit = request.membership.can(Perm.EDIT_CONTENT)
    form = SuppressionForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if not can_edit:
            return redirect("sending:suppressions", account_id=account.public_id)
        if form.is_valid():
            try:
                entry = service.suppression_add(
                    account=account,
                    address=form.cleaned_data["address"],
                    detail=form.cleaned_data["detail"],
                    expires_at=_end_of_day(form.cleaned_data["expires"]),
                    actor=Actor.from_request(request),
                )
            except ServiceError as exc:
                form.add_error("address", str(exc))
            else:
                messages.success(request, _("%(address)s will not be sent to.") % {"address": entry.address})
                return redirect("sending:suppressions", account_id=account.public_id)
    rows = account.suppressions.order_by("-created_at")
    query = request.GET.get("q", "").strip()
    if query:
        rows = rows.filter(address__icontains=query.lower())
    reason = request.GET.get("reason", "")
    if reason:
        rows = rows.filter(reason=reason)
    context = {
        "page": page_of(request, rows),
        "form": form,
        "import_form": SuppressionImportForm() if can_edit else None,
        "can_edit": can_edit,
        "total": account.suppressions.count(),
    }
    return render(request, "sending/suppressions.html", context, status=400 if form and form.errors else 200)


@account_view(Perm.EDIT_CONTENT)
def suppression_import(request):
    form = SuppressionImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            counts = service.suppression_import(
                account=request.account,
                data=form.cleaned_data["file"].read(),
                actor=Actor.from_request(request),
            )
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Imported: %(added)s added, %(present)s already listed, %(invalid)s not valid addresses.")
                % counts,
            )
    elif request.method == "POST":
        messages.error(request, _("Choose a file to import."))
    return redirect("sending:suppressions", account_id=request.account.public_id)


class _Echo:
    def write(self, value):
        return value


@account_view(Perm.VIEW)
def suppression_export(request):
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in service.suppression_export_rows(request.account))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="suppressions.csv"'
    return response


@account_view(Perm.EDIT_CONTENT)
def suppression_remove(request, suppression_id: str):
    entry = get_for_account(Suppression, request.account, public_id=suppression_id)
    back = redirect("sending:suppressions", account_id=request.account.public_id)
    if request.method == "POST":
        service.suppression_remove(entry=entry, actor=Actor.from_request(request))
        messages.success(request, _("%(address)s may be sent to again.") % {"address": entry.address})
        return back
    return confirm_page(
        request,
        title=_("Remove from the suppression list"),
        question=_("Send to %(address)s again?") % {"address": entry.address},
        explanation=_("It was added as: %(reason)s. Mail to it is accepted again from now on.")
        % {"reason": entry.get_reason_display()},
        button=_("Remove"),
        back_url=back.url,
        back_label=_("Suppression list"),
    )


def _end_of_day(day):
    """The end of `day` in the account's time zone (activated by account_view), or None."""
    if day is None:
        return None
    return datetime.combine(day, time.max, tzinfo=timezone.get_current_timezone())
