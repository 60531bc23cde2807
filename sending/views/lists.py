"""Recipient-list pages: lists, one list's addresses (search, add, edit, delete, export) and imports.

Everyone in the account may look; changing lists and addresses needs EDIT_CONTENT.
"""

import csv
import re

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending.csv_cells import escape_formula
from sending.lists import files
from sending.lists.fields import STANDARD_NAMES, VARIABLE_OF, InvalidRecipient, clean_recipient
from sending.lists.forms import ImportMappingForm, ImportUploadForm, RecipientForm, RecipientListForm
from sending.models import ImportFileChunk, ImportStatus, Recipient, RecipientImport, RecipientList
from sending.services import lists as service
from sending.services.messages import suppressed_among


def _list(request, list_id: str) -> RecipientList:
    return get_for_account(RecipientList, request.account, public_id=list_id)


def _to_list(request, recipient_list: RecipientList):
    return redirect(
        "sending:recipient_list", account_id=request.account.public_id, list_id=recipient_list.public_id
    )


@account_view(Perm.VIEW)
def list_index(request):
    account = request.account
    can_edit = request.membership.can(Perm.EDIT_CONTENT)
    form = RecipientListForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if not can_edit:
            return redirect("sending:recipient_lists", account_id=account.public_id)
        if form.is_valid():
            try:
                recipient_list = service.list_create(
                    account=account, **form.cleaned_data, actor=Actor.from_request(request)
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    _("List %(name)s created. Add addresses or import a file.") % {"name": recipient_list},
                )
                return _to_list(request, recipient_list)
    lists = account.recipient_lists.all()
    query = request.GET.get("q", "").strip()
    if query:
        lists = lists.filter(
            Q(name__icontains=query) | Q(alias__icontains=query) | Q(description__icontains=query)
        )
    context = {
        "page": page_of(request, lists),
        "form": form,
        "can_edit": can_edit,
        "used": account.recipient_lists.count(),
        "limit": account.limit("max_recipient_lists"),
        "per_list": account.limit("max_recipients_per_list"),
    }
    return render(request, "sending/list_index.html", context, status=400 if form and form.errors else 200)


def _search(recipients, query: str):
    if not query:
        return recipients
    match = Q(email_key__contains=query.lower())
    for name in STANDARD_NAMES:
        match |= Q(**{f"{name}__icontains": query})
    # Custom fields are JSON: a text search over their stored form finds values and names.
    match |= Q(custom__icontains=query)
    return recipients.filter(match)


@account_view(Perm.VIEW)
def list_detail(request, list_id: str):
    recipient_list = _list(request, list_id)
    can_edit = request.membership.can(Perm.EDIT_CONTENT)
    form = RecipientForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if form is None:
            return _to_list(request, recipient_list)
        if form.is_valid():
            recipient = _save_recipient(request, form, recipient_list)
            if recipient is not None:
                messages.success(request, _("%(address)s added.") % {"address": recipient.email})
                return _to_list(request, recipient_list)
    query = request.GET.get("q", "").strip()
    page = page_of(request, _search(recipient_list.recipients.all(), query))
    suppressed = suppressed_among(request.account.pk, [r.email for r in page])
    for recipient in page:
        recipient.is_suppressed = recipient.email_key in suppressed
    context = {
        "recipient_list": recipient_list,
        "page": page,
        "form": form,
        "can_edit": can_edit,
        "limit": request.account.limit("max_recipients_per_list"),
        "imports": recipient_list.imports.exclude(status=ImportStatus.CANCELLED)[:5],
        "variables": list(VARIABLE_OF.values()),
    }
    return render(request, "sending/list_detail.html", context, status=400 if form and form.errors else 200)


def _save_recipient(
    request, form: RecipientForm, recipient_list: RecipientList, recipient: Recipient | None = None
):
    data = form.cleaned_data
    try:
        clean = clean_recipient(data["email"], {name: data[name] for name in STANDARD_NAMES}, data["custom"])
        actor = Actor.from_request(request)
        if recipient is None:
            return service.recipient_add(recipient_list=recipient_list, clean=clean, actor=actor)
        return service.recipient_update(recipient=recipient, clean=clean, actor=actor)
    except (InvalidRecipient, ServiceError) as exc:
        form.add_error(None, str(exc))
        return None


@account_view(Perm.EDIT_CONTENT)
def list_edit(request, list_id: str):
    recipient_list = _list(request, list_id)
    initial = {
        "name": recipient_list.name,
        "alias": recipient_list.alias,
        "description": recipient_list.description,
    }
    form = RecipientListForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            service.list_update(
                recipient_list=recipient_list, **form.cleaned_data, actor=Actor.from_request(request)
            )
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("List %(name)s saved.") % {"name": recipient_list})
            return _to_list(request, recipient_list)
    return render(request, "sending/list_edit.html", {"recipient_list": recipient_list, "form": form})


@account_view(Perm.EDIT_CONTENT)
def list_delete(request, list_id: str):
    recipient_list = _list(request, list_id)
    back = reverse("sending:recipient_lists", args=[request.account.public_id])
    if request.method == "POST":
        try:
            service.list_delete(recipient_list=recipient_list, actor=Actor.from_request(request))
        except ServiceError as exc:
            messages.error(request, str(exc))
            return _to_list(request, recipient_list)
        messages.success(request, _("List %(name)s deleted.") % {"name": recipient_list.name})
        return redirect(back)
    return confirm_page(
        request,
        title=_("Delete list"),
        question=_("Delete the list %(name)s and its %(count)s addresses?")
        % {"name": recipient_list.name, "count": recipient_list.recipient_count},
        explanation=_("The addresses cannot be recovered; export the list first if you may need it."),
        button=_("Delete list"),
        back_url=back,
        back_label=_("Recipient lists"),
    )


def _recipient(recipient_list: RecipientList, recipient_id: str) -> Recipient:
    recipient = recipient_list.recipients.filter(pk=recipient_id if recipient_id.isdigit() else 0).first()
    if recipient is None:
        raise Http404
    return recipient


@account_view(Perm.EDIT_CONTENT)
def recipient_edit(request, list_id: str, recipient_id: str):
    recipient_list = _list(request, list_id)
    recipient = _recipient(recipient_list, recipient_id)
    form = RecipientForm(request.POST or None, initial=RecipientForm.initial_for(recipient))
    saved = (
        request.method == "POST"
        and form.is_valid()
        and _save_recipient(request, form, recipient_list, recipient)
    )
    if saved:
        messages.success(request, _("%(address)s saved.") % {"address": recipient.email})
        return _to_list(request, recipient_list)
    context = {"recipient_list": recipient_list, "recipient": recipient, "form": form}
    return render(request, "sending/recipient_edit.html", context)


@account_view(Perm.EDIT_CONTENT)
def recipient_delete(request, list_id: str, recipient_id: str):
    recipient_list = _list(request, list_id)
    recipient = _recipient(recipient_list, recipient_id)
    back = reverse("sending:recipient_list", args=[request.account.public_id, recipient_list.public_id])
    if request.method == "POST":
        service.recipients_delete(
            recipient_list=recipient_list, ids=[recipient.pk], actor=Actor.from_request(request)
        )
        messages.success(request, _("%(address)s removed from the list.") % {"address": recipient.email})
        return redirect(back)
    return confirm_page(
        request,
        title=_("Remove address"),
        question=_("Remove %(address)s from %(name)s?")
        % {"address": recipient.email, "name": recipient_list.name},
        explanation=_("Its fields go with it. Mail already sent is not affected."),
        button=_("Remove"),
        back_url=back,
        back_label=recipient_list.name,
    )


@account_view(Perm.EDIT_CONTENT)
def recipients_bulk_delete(request, list_id: str):
    """The selected rows (POST): first a confirmation listing them, then (confirm=1) the delete."""
    recipient_list = _list(request, list_id)
    if request.method != "POST":
        return _to_list(request, recipient_list)
    ids = [i for i in request.POST.getlist("ids") if i.isdigit()]
    chosen = recipient_list.recipients.filter(pk__in=ids)
    if not ids or not chosen.exists():
        messages.warning(request, _("Select the addresses to remove first."))
        return _to_list(request, recipient_list)
    if request.POST.get("confirm") == "1":
        count = service.recipients_delete(
            recipient_list=recipient_list, ids=ids, actor=Actor.from_request(request)
        )
        messages.success(request, _("%(count)s addresses removed.") % {"count": count})
        return _to_list(request, recipient_list)
    context = {"recipient_list": recipient_list, "chosen": chosen.order_by("email_key")}
    return render(request, "sending/recipients_bulk_delete.html", context)


@account_view(Perm.VIEW)
def list_sample(request, list_id: str):
    """One recipient's template variables (the newest, or ?email=), for a template's sample data."""
    recipient_list = _list(request, list_id)
    recipients = recipient_list.recipients.all()
    if email := request.GET.get("email", "").strip():
        recipients = recipients.filter(email_key=email.lower())
    recipient = recipients.order_by("-pk").first()
    if recipient is None:
        return JsonResponse({"error": _("No such address in %(name)s.") % {"name": recipient_list.name}})
    return JsonResponse({"variables": recipient.variables()})


class _Echo:
    def write(self, value):
        return value


EXPORT_BATCH = 2000


def _export_rows(recipient_list: RecipientList):
    """The header, then every recipient, read in keyset-paged batches (no whole list in memory)."""
    custom_names: dict[str, None] = {}
    for custom in (
        recipient_list.recipients.exclude(custom={})
        .order_by("pk")
        .values_list("custom", flat=True)
        .iterator()
    ):
        custom_names.update(dict.fromkeys(custom))
    yield ["Email", *VARIABLE_OF.values(), *custom_names]
    last = 0
    while True:
        batch = list(recipient_list.recipients.filter(pk__gt=last).order_by("pk")[:EXPORT_BATCH])
        if not batch:
            return
        for r in batch:
            row = [
                r.email,
                *(getattr(r, name) for name in STANDARD_NAMES),
                *(r.custom.get(n, "") for n in custom_names),
            ]
            yield [escape_formula(cell) for cell in row]
        last = batch[-1].pk


@account_view(Perm.VIEW)
def list_export(request, list_id: str):
    recipient_list = _list(request, list_id)
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a BOM: Excel then reads the file as UTF-8
        for row in _export_rows(recipient_list):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "-", recipient_list.name).strip(" .-") or "list"
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.csv") or ""  # its name
    return response


# -- imports


def _import(request, import_id: str) -> RecipientImport:
    return get_for_account(
        RecipientImport.objects.select_related("recipient_list"), request.account, public_id=import_id
    )


def _to_import(request, recipient_import: RecipientImport):
    return redirect(
        "sending:recipient_import", account_id=request.account.public_id, import_id=recipient_import.public_id
    )


@account_view(Perm.EDIT_CONTENT)
def import_upload(request, list_id: str):
    recipient_list = _list(request, list_id)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            recipient_import = service.import_upload(
                recipient_list=recipient_list,
                upload=form.cleaned_data["file"],
                actor=Actor.from_request(request),
            )
        except ServiceError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect(
                "sending:recipient_import_mapping",
                account_id=request.account.public_id,
                import_id=recipient_import.public_id,
            )
    context = {"recipient_list": recipient_list, "form": form}
    return render(request, "sending/import_upload.html", context, status=400 if form.errors else 200)


@account_view(Perm.EDIT_CONTENT)
def import_mapping(request, import_id: str):
    """The preview and column mapping. "Update preview" reads the file again with the chosen format."""
    recipient_import = _import(request, import_id)
    if recipient_import.status != ImportStatus.UPLOADED:
        return _to_import(request, recipient_import)
    error = None
    choices = {}
    if request.method == "POST":
        choices = {
            "encoding": request.POST.get("encoding") or None,
            "delimiter": request.POST.get("delimiter") or None,
            "has_header": request.POST.get("has_header") == "on",
        }
    try:
        found = service.import_preview(recipient_import, **choices)
    except ServiceError as exc:
        error, found = str(exc), None
    if found is None:
        # The chosen encoding does not read the file: show the detected format again, with the error.
        found = service.import_preview(recipient_import)
    columns = max(found.columns, 1)
    initial = ImportMappingForm.initial_for(found)
    if request.method == "POST" and "start" in request.POST and error is None:
        form = ImportMappingForm(request.POST, columns=columns)
        if form.is_valid():
            try:
                service.import_start(
                    recipient_import=recipient_import,
                    encoding=form.cleaned_data["encoding"],
                    delimiter=form.cleaned_data["delimiter"],
                    has_header=form.cleaned_data["has_header"],
                    mapping=form.mapping(),
                    mode=form.cleaned_data["mode"],
                    validate_after=form.cleaned_data["validate_after"],
                    actor=Actor.from_request(request),
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                return _to_import(request, recipient_import)
    elif request.method == "POST":
        # A new format: guesses for its columns, the mode kept.
        form = ImportMappingForm(
            initial={**initial, "mode": request.POST.get("mode", "add")}, columns=columns
        )
    else:
        form = ImportMappingForm(initial=initial, columns=columns)
    limit = request.account.limit("max_recipients_per_list")
    rows = service.import_rows_estimate(recipient_import, has_header=bool(found.has_header))
    room = max(0, limit - recipient_import.recipient_list.recipient_count)
    context = {
        "recipient_import": recipient_import,
        "recipient_list": recipient_import.recipient_list,
        "found": found,
        "form": form,
        "columns": [
            (found.header[i] if i < len(found.header) else "", choice, name)
            for i, (choice, name) in enumerate(form.columns_fields())
        ],
        "error": error,
        "limit": limit,
        "rows_estimate": rows,
        "room": room,
        "over_limit": rows > room,
    }
    return render(
        request, "sending/import_mapping.html", context, status=400 if error or form.errors else 200
    )


@account_view(Perm.VIEW)
def import_detail(request, import_id: str):
    recipient_import = _import(request, import_id)
    context = {
        "recipient_import": recipient_import,
        "recipient_list": recipient_import.recipient_list,
        "report_kept": recipient_import.chunks.filter(kind=ImportFileChunk.Kind.REJECTED).exists(),
    }
    return render(request, "sending/import_detail.html", context)


@account_view(Perm.VIEW)
def import_status(request, import_id: str):
    i = _import(request, import_id)
    return JsonResponse(
        {
            "status": i.status,
            "status_label": i.get_status_display(),
            "progress": i.progress,
            "rows_read": i.rows_read,
            "active": i.is_active,
        }
    )


@account_view(Perm.VIEW)
def import_rejected(request, import_id: str):
    recipient_import = _import(request, import_id)
    if not recipient_import.chunks.filter(kind=ImportFileChunk.Kind.REJECTED).exists():
        raise Http404
    response = StreamingHttpResponse(
        files.read_chunks(recipient_import, ImportFileChunk.Kind.REJECTED),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="rejected-{recipient_import.public_id}.csv"'
    return response


@account_view(Perm.EDIT_CONTENT)
def import_cancel(request, import_id: str):
    recipient_import = _import(request, import_id)
    back = reverse(
        "sending:recipient_list", args=[request.account.public_id, recipient_import.recipient_list.public_id]
    )
    if request.method == "POST":
        if service.import_cancel(recipient_import=recipient_import):
            messages.success(
                request, _("The import of %(file)s was cancelled.") % {"file": recipient_import.file_name}
            )
        else:
            messages.warning(request, _("The import had started already: it runs to its end."))
        return redirect(back)
    return confirm_page(
        request,
        title=_("Cancel import"),
        question=_("Cancel the import of %(file)s?") % {"file": recipient_import.file_name},
        explanation=_("Nothing from the file has been added; the uploaded file is deleted."),
        button=_("Cancel import"),
        back_url=back,
        back_label=recipient_import.recipient_list.name,
    )
