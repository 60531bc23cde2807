"""Template pages: the list, a template's editor with its versions and review, the review queue, and a
sandboxed preview of a version."""

import difflib
import json
import secrets
from collections.abc import Callable

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from directmail.typing import Label
from templates_app import checks, compose, plaintext, rendering, services, spam
from templates_app.forms import ContentForm, RejectForm, TemplateForm, TestSendForm
from templates_app.models import BodyFormat, Template, TemplateKind, TemplateVersion, VersionStatus
from templates_app.rendering import sample_data

# The preview is the template's own HTML: it may not run anything, fetch anything but images, or navigate.
PREVIEW_CSP = "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; sandbox"


def _template(request, template_id: str) -> Template:
    return get_for_account(
        Template.objects.select_related("approved_version"), request.account, public_id=template_id
    )


def _back(request, template: Template):
    return redirect(
        "templates_app:template_detail", account_id=request.account.public_id, template_id=template.public_id
    )


@account_view(Perm.VIEW)
def template_list(request):
    templates = request.account.templates.select_related("approved_version", "created_by").order_by("name")
    query = request.GET.get("q", "").strip()
    if query:
        templates = templates.filter(name__icontains=query)
    page = page_of(request, templates)
    latest: dict[int, TemplateVersion] = {}
    for version in TemplateVersion.objects.filter(template__in=page.object_list).order_by(
        "template", "-number"
    ):
        latest.setdefault(version.template_id, version)
    rows = [(template, latest.get(template.pk)) for template in page]
    waiting = TemplateVersion.objects.filter(
        template__account=request.account, status=VersionStatus.SUBMITTED
    ).count()
    context = {
        "page": page,
        "rows": rows,
        "waiting": waiting,
        "can_edit": request.membership.can(Perm.EDIT_CONTENT),
        "can_review": request.membership.can(Perm.REVIEW_TEMPLATES),
        "used": request.account.templates.count(),
        "limit": request.account.limit("max_templates"),
    }
    return render(request, "templates_app/template_list.html", context)


@account_view(Perm.EDIT_CONTENT)
def template_create(request):
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.template_create(
                account=request.account, actor=Actor.from_request(request), **form.cleaned_data
            )
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Template %(name)s created. Write its first version.") % {"name": template}
            )
            return _back(request, template)
    return render(request, "templates_app/template_create.html", {"form": form})


@account_view(Perm.VIEW)
def template_detail(request, template_id: str):
    template = _template(request, template_id)
    versions = list(template.versions.select_related("author", "submitted_by", "reviewed_by"))
    latest = versions[0]
    can_edit = request.membership.can(Perm.EDIT_CONTENT)
    sms = template.kind == TemplateKind.SMS
    initial = {
        "subject": latest.subject,
        "from_alias": latest.from_alias,
        "body_format": latest.body_format,
        "html_body": latest.source or latest.html_body,  # what the author wrote
        "text_body": latest.text_body,
        "sample_data": json.dumps(template.sample_data),
    }
    form = ContentForm(request.POST or None, initial=initial, sms=sms) if can_edit else None
    source_error: compose.SourceError | None = None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("Your role may not edit templates."))
        if form.is_valid():
            content = {k: v for k, v in form.cleaned_data.items() if k != "sample_data"}
            try:
                with transaction.atomic():
                    version = services.template_edit(
                        template=template, actor=Actor.from_request(request), **content
                    )
                    services.template_sample_data_set(
                        template=template, data=form.cleaned_data["sample_data"]
                    )
            except compose.SourceError as exc:
                form.add_error("html_body", str(exc))
                source_error = exc
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                # What the sanitizer removed is shown on the page itself (once, not again as a message).
                messages.success(request, _("Version %(n)s saved as a draft.") % {"n": version.number})
                return _back(request, template)
    variables = rendering.variables_in(latest.subject, latest.html_body, latest.text_body)
    shown = next((v for v in versions if str(v.number) == request.GET.get("version")), latest)
    samples = [(name, template.sample_data.get(name, "")) for name in variables if name != "EAddr"]
    approved = template.approved_version
    context = {
        "template": template,
        "versions": versions,
        "latest": latest,
        "form": form,
        "editable": can_edit and latest.status != VersionStatus.SUBMITTED,
        "can_edit": can_edit,
        "can_review": request.membership.can(Perm.REVIEW_TEMPLATES),
        "reject_form": RejectForm(),
        "variables": variables,
        "samples": samples,
        "sample_json": json.dumps(template.sample_data),
        "preview_subject": rendering.render_subject(latest.subject, template.sample_data),
        "shown": shown,
        "diff": _diff(approved, shown) if approved and approved.pk != shown.pk else None,
        "test_form": TestSendForm(account=request.account) if request.membership.can(Perm.SEND) else None,
        # Sample data can come from a row of a list (sending:recipient_list_sample).
        "sample_lists": request.account.recipient_lists.filter(recipient_count__gt=0).order_by("name"),
        "source_error_line": source_error.line if source_error else 0,
        # The pre-flight checks of the newest version as saved (the editor refreshes them as you type).
        "findings": checks.check(html=latest.html_body, text=latest.text_body)
        if template.kind == TemplateKind.EMAIL
        else [],
        "spam_configured": spam.configured(),
        "completions": _completions(request.account),
    }
    return render(request, "templates_app/template_detail.html", context)


def _completions(account) -> list[str]:
    """The variables the editor offers after "{": DirectMail's fields and the account's lists' own."""
    names = dict.fromkeys(rendering.STANDARD_VARIABLES)
    for recipient_list in account.recipient_lists.order_by("name")[:50]:
        # A list's fields are its file's columns: a few of its rows show them.
        for row in recipient_list.recipients.exclude(custom={}).values_list("custom", flat=True)[:20]:
            for key in row or {}:
                names.setdefault(str(key), None)
    return list(names)


def _diff(old: TemplateVersion, new: TemplateVersion) -> list[tuple[str, str]]:
    """(kind, line) of a unified diff from `old` to `new` (kind: add, remove, context, header)."""

    def lines(version):
        # An MJML version is compared as written (its compiled HTML is one long line); HTML as it is sent.
        mjml = version.body_format == BodyFormat.MJML and version.source
        body = version.source if mjml else version.html_body
        return [f"Subject: {version.subject}", *body.splitlines(), *version.text_body.splitlines()]

    out = []
    for line in difflib.unified_diff(lines(old), lines(new), f"v{old.number}", f"v{new.number}", lineterm=""):
        if line.startswith(("---", "+++", "@@")):
            out.append(("header", line))
        elif line.startswith("+"):
            out.append(("add", line))
        elif line.startswith("-"):
            out.append(("remove", line))
        else:
            out.append(("context", line))
    return out


STEPS: dict[str, tuple[str, Callable[..., object], Label]] = {
    "submit": (Perm.EDIT_CONTENT, services.version_submit, _("Version %(n)s submitted for review.")),
    "withdraw": (Perm.EDIT_CONTENT, services.version_withdraw, _("Version %(n)s is a draft again.")),
    "approve": (
        Perm.REVIEW_TEMPLATES,
        services.version_approve,
        _("Version %(n)s approved: it is in use now."),
    ),
    "reject": (Perm.REVIEW_TEMPLATES, services.version_reject, _("Version %(n)s rejected.")),
}


@account_view(Perm.VIEW)
@require_POST
def version_step(request, template_id: str, number: int, step: str):
    if step not in STEPS:
        raise Http404
    perm, service, done = STEPS[step]
    if not request.membership.can(perm):
        raise PermissionDenied(_("Your role may not do that."))
    template = _template(request, template_id)
    version = template.versions.filter(number=number).first()
    if version is None:
        raise Http404
    arguments = {"version": version, "actor": Actor.from_request(request)}
    if step == "reject":
        form = RejectForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say why the version is rejected."))
            return _back(request, template)
        arguments["comment"] = form.cleaned_data["comment"]
    try:
        service(**arguments)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done % {"n": number})
    if step in ("approve", "reject") and request.POST.get("next") == "queue":
        return redirect("templates_app:review_queue", account_id=request.account.public_id)
    return _back(request, template)


# An approximation of the dark mode of clients that invert mail (Gmail's and Outlook's apps): colours
# turned round, images turned back.
DARK_STYLE = (
    "<style>html{background:#fff;filter:invert(1) hue-rotate(180deg)}"
    "img,[style*='background-image']{filter:invert(1) hue-rotate(180deg)}</style>"
)


def _preview_response(body: str, request=None) -> HttpResponse:
    """The preview document; ?dark=1 shows it as dark-mode clients do, ?images=0 as clients that block
    images (the CSP forbids loading any; their alt text shows)."""
    dark = request is not None and request.GET.get("dark") == "1"
    images = request is None or request.GET.get("images") != "0"
    document = f"<!doctype html><meta charset='utf-8'>{DARK_STYLE if dark else ''}{body}"
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        PREVIEW_CSP if images else PREVIEW_CSP.replace("img-src https: http: data:", "img-src 'none'")
    )
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["Cache-Control"] = "no-store"
    return response


def _rendered_body(kind: str, html_body: str, text_body: str, data: dict) -> str:
    if kind == TemplateKind.SMS or not html_body:
        escaped = text_body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = rendering.render_html(escaped, data)
        return f"<pre style='white-space: pre-wrap; font-family: sans-serif'>{text}</pre>"
    return rendering.render_html(html_body, data)


@account_view(Perm.VIEW)
def version_preview(request, template_id: str, number: int):
    """The version rendered with sample data, for a sandboxed frame: nothing in it can run or navigate."""
    template = _template(request, template_id)
    version = template.versions.filter(number=number).first()
    if version is None:
        raise Http404
    data = sample_data(request.GET.get("data", ""))
    return _preview_response(
        _rendered_body(template.kind, version.html_body, version.text_body, data), request
    )


@account_view(Perm.VIEW)
def template_preview(request, template_id: str):
    """The editor's live preview. POST: sanitize and render what is being typed (nothing is saved), keep
    it a few minutes under a random token, and answer where to load it; GET ?token=: that document, for a
    sandboxed frame with a CSP that lets nothing run."""
    template = _template(request, template_id)
    key_prefix = f"template-preview:{request.account.pk}:{request.user.pk}:"
    if request.method == "GET":
        body = cache.get(key_prefix + request.GET.get("token", ""))
        if body is None:
            raise Http404
        return _preview_response(body, request)
    subject, source = request.POST.get("subject", ""), request.POST.get("html_body", "")
    text_body = request.POST.get("text_body", "")
    body_format = request.POST.get("body_format") or BodyFormat.HTML
    data = sample_data(request.POST.get("data", ""))
    try:
        cleaned = compose.prepare(
            source, body_format if body_format in BodyFormat.values else BodyFormat.HTML
        )
    except compose.SourceError as exc:
        return JsonResponse({"error": str(exc), "line": exc.line})
    token = secrets.token_urlsafe(16)
    rendered = _rendered_body(template.kind, cleaned.html, text_body, data)
    cache.set(key_prefix + token, rendered, 300)
    used = rendering.variables_in(subject, cleaned.html, text_body)
    url = reverse("templates_app:template_preview", args=[request.account.public_id, template.public_id])
    email = template.kind == TemplateKind.EMAIL
    text = rendering.render_text(text_body, data) if text_body.strip() else plaintext.text_from_html(rendered)
    return JsonResponse(
        {
            "url": f"{url}?token={token}",
            "subject": rendering.render_subject(subject, data),
            "removed": cleaned.removed,
            "variables": used,
            "missing": [name for name in used if name not in data and name != "EAddr"],
            "text": text if email else "",
            "preheader": _preheader(rendered) if email else "",
            "checks": [_finding(f) for f in checks.check(html=cleaned.html, text=text_body)] if email else [],
        }
    )


def _preheader(html_body: str) -> str:
    """What an inbox shows after the subject: the first words of the mail."""
    words = plaintext.visible_text(html_body)
    return words[:100] + ("…" if len(words) > 100 else "")


def _finding(finding: checks.Finding) -> dict:
    return {"code": finding.code, "level": finding.level, "message": finding.message,
            "examples": list(finding.examples)}  # fmt: skip


@account_view(Perm.VIEW)
@require_POST
def template_spam_check(request, template_id: str):
    """SpamAssassin's score of what is in the editor (or the version shown), with the rules that fired."""
    _template(request, template_id)  # the account's, or 404
    if not (request.membership.can(Perm.EDIT_CONTENT) or request.membership.can(Perm.REVIEW_TEMPLATES)):
        raise PermissionDenied(_("Only those who write or review templates check their spam score."))
    if not spam.configured():
        return JsonResponse({"configured": False, "error": _("Spam check not configured (SPAMD_URL).")})
    body_format = request.POST.get("body_format") or BodyFormat.HTML
    try:
        cleaned = compose.prepare(
            request.POST.get("html_body", ""), body_format if body_format in BodyFormat.values else "html"
        )
    except compose.SourceError as exc:
        return JsonResponse({"configured": True, "error": str(exc)})
    raw = spam.message_for(
        subject=request.POST.get("subject", ""), html=cleaned.html, text=request.POST.get("text_body", ""),
        data=sample_data(request.POST.get("data", "")), sender=spam.sender_of(request.account),
        from_alias=request.POST.get("from_alias", ""),
    )  # fmt: skip
    try:
        result = spam.score(raw)
    except spam.SpamCheckError as exc:
        return JsonResponse({"configured": True, "error": _("The spam check failed: %(why)s") % {"why": exc}})
    return JsonResponse({"configured": True, "score": result.score, "threshold": result.threshold,
                         "spam": result.is_spam, "rules": result.rules})  # fmt: skip


@account_view(Perm.REVIEW_TEMPLATES)
def review_queue(request):
    waiting = (
        TemplateVersion.objects.filter(template__account=request.account, status=VersionStatus.SUBMITTED)
        .select_related("template__approved_version", "submitted_by")
        .order_by("submitted_at")
    )
    rows = []
    for version in waiting:
        version.findings = checks.check(html=version.html_body, text=version.text_body)
        approved = version.template.approved_version
        rows.append((version, _diff(approved, version) if approved else None))
    return render(request, "templates_app/review_queue.html", {"rows": rows, "reject_form": RejectForm()})


@account_view(Perm.EDIT_CONTENT)
def template_delete(request, template_id: str):
    template = _template(request, template_id)
    if request.method == "POST":
        services.template_delete(template=template, actor=Actor.from_request(request))
        messages.success(request, _("Template %(name)s deleted.") % {"name": template.name})
        return redirect("templates_app:templates", account_id=request.account.public_id)
    return confirm_page(
        request,
        question=_("Delete the template %(name)s?") % {"name": template.name},
        explanation=_("All its versions are deleted. Mail already sent is not affected."),
        button=_("Delete template"),
        back_url=reverse(
            "templates_app:template_detail", args=[request.account.public_id, template.public_id]
        ),
        back_label=_("Keep it"),
    )
