"""Templates and their review workflow: create, edit (a draft), submit, withdraw, approve, reject, delete.

draft -> submitted -> approved | rejected. Only a draft is edited; editing a template whose newest version
is approved or rejected starts a new draft (the approved version stays in use until another is approved).
Reviewers get an email when a version is submitted; its author gets one with the decision. Every change
is in the audit log with the version number. Who may call what is the views' and the API's business
(Perm.EDIT_CONTENT, Perm.REVIEW_TEMPLATES); the four-eyes rule of an account is enforced here.
"""

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts.audit import Actor, audit_record
from accounts.errors import ServiceError
from accounts.limits import enforce_limit, lock_account
from accounts.mailing import mail_people
from accounts.models import AccessKey, Account
from accounts.roles import PERMISSIONS, Perm
from templates_app import compose
from templates_app.models import (
    MAX_NAME_LENGTH,
    BodyFormat,
    Template,
    TemplateKind,
    TemplateVersion,
    VersionStatus,
)

MAX_SUBJECT = 256  # DirectMail's, as SingleSendMail's Subject
MAX_SMS = 500


def _validate_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or any(not c.isprintable() for c in name):
        raise ServiceError(_("A template name is 1 to %(n)s printable characters.") % {"n": MAX_NAME_LENGTH})
    return name


MAX_FROM_ALIAS = 30


def _apply_content(
    version: TemplateVersion,
    *,
    subject: str,
    html_body: str,
    text_body: str,
    from_alias: str = "",
    body_format: str = BodyFormat.HTML,
) -> None:
    """Set a version's content. `html_body` is what the author wrote, HTML or (`body_format`) MJML: kept
    as the version's source, and compiled, inlined and sanitized into its html_body (templates_app.compose;
    a compile error is a SourceError naming the line)."""
    kind = version.template.kind
    from_alias = from_alias.strip()
    if any(c in from_alias for c in "\r\n\0") or len(from_alias) > MAX_FROM_ALIAS:
        raise ServiceError(
            _("The sender name is one line of at most %(n)s characters.") % {"n": MAX_FROM_ALIAS}
        )
    version.from_alias = from_alias if kind == TemplateKind.EMAIL else ""
    if kind == TemplateKind.EMAIL:
        subject = subject.strip()
        if any(c in subject for c in "\r\n\0") or len(subject) > MAX_SUBJECT:
            raise ServiceError(_("The subject is one line of at most %(n)s characters.") % {"n": MAX_SUBJECT})
        if body_format not in BodyFormat.values:
            raise ServiceError(_("The body is HTML or MJML."))
        prepared = compose.prepare(html_body, body_format)
        version.subject, version.html_body, version.removed = subject, prepared.html, prepared.removed
        version.source, version.body_format = html_body, body_format
        version.text_body = text_body
    else:
        if len(text_body) > MAX_SMS:
            raise ServiceError(_("An SMS template is at most %(n)s characters.") % {"n": MAX_SMS})
        version.subject, version.html_body, version.removed, version.text_body = "", "", [], text_body
        version.source, version.body_format = "", BodyFormat.HTML
    version.updated_at = timezone.now()


@transaction.atomic
def template_create(
    *,
    account: Account,
    name: str,
    kind: str = TemplateKind.EMAIL,
    description: str = "",
    subject: str = "",
    html_body: str = "",
    text_body: str = "",
    from_alias: str = "",
    body_format: str = BodyFormat.HTML,
    actor: Actor,
) -> Template:
    """A new template with version 1 as a draft."""
    name = _validate_name(name)
    if kind not in TemplateKind.values:
        raise ServiceError(_("Choose email or SMS."))
    account = lock_account(account)
    if account.templates.filter(name=name).exists():
        raise ServiceError(_("There is already a template named %(name)s.") % {"name": name})
    enforce_limit(account, "max_templates", account.templates.count())
    template = Template.objects.create(
        account=account, name=name, kind=kind, description=description.strip()[:255], created_by=actor.user
    )
    version = TemplateVersion(template=template, number=1, author=actor.user)
    _apply_content(version, subject=subject, html_body=html_body, text_body=text_body, from_alias=from_alias,
                   body_format=body_format)  # fmt: skip
    _note_writer(version, actor)
    version.save()
    audit_record(
        actor=actor, action="template.create", account=account, target=template, details={"version": 1}
    )
    return template


@transaction.atomic
def template_update_info(*, template: Template, name: str, description: str, actor: Actor) -> Template:
    name = _validate_name(name)
    if template.account.templates.filter(name=name).exclude(pk=template.pk).exists():
        raise ServiceError(_("There is already a template named %(name)s.") % {"name": name})
    template.name, template.description = name, description.strip()[:255]
    template.save(update_fields=["name", "description"])
    audit_record(actor=actor, action="template.rename", account=template.account, target=template)
    return template


def _locked(template: Template) -> Template:
    return Template.objects.select_for_update().get(pk=template.pk)


@transaction.atomic
def template_edit(
    *,
    template: Template,
    subject: str = "",
    html_body: str = "",
    text_body: str = "",
    from_alias: str | None = None,
    body_format: str | None = None,
    actor: Actor,
) -> TemplateVersion:
    """Save content into the open draft, or start a new draft after an approved or rejected version.
    `from_alias` and `body_format` None: as the newest version has them."""
    template = _locked(template)
    latest = template.latest_version()
    if latest.status == VersionStatus.SUBMITTED:
        raise ServiceError(
            _("Version %(n)s is waiting for review. Withdraw it to change it.") % {"n": latest.number}
        )
    if latest.status == VersionStatus.DRAFT:
        version = latest
    else:
        version = TemplateVersion(template=template, number=latest.number + 1, author=actor.user)
    alias = latest.from_alias if from_alias is None else from_alias  # None: kept
    fmt = latest.body_format if body_format is None else body_format
    _apply_content(version, subject=subject, html_body=html_body, text_body=text_body, from_alias=alias,
                   body_format=fmt)  # fmt: skip
    _note_writer(version, actor)
    version.save()
    audit_record(
        actor=actor,
        action="template.edit",
        account=template.account,
        target=template,
        details={"version": version.number},
    )
    return version


def template_sample_data_set(*, template: Template, data: dict[str, str]) -> None:
    """Keep the sample values of the template's variables (the preview and test sends use them)."""
    if data != template.sample_data:
        Template.objects.filter(pk=template.pk).update(sample_data=data)
        template.sample_data = data


def _writer_marks(actor: Actor) -> list[str]:
    """How `actor` is named among a version's writers: the person, or the API key and the person who
    created it (a key is a door, not a second person)."""
    marks = [f"user:{actor.user.pk}"] if actor.user is not None else []
    if actor.key_id:
        marks.append(f"key:{actor.key_id}")
        key = AccessKey.objects.filter(key_id=actor.key_id)
        creator = key.values_list("created_by_id", flat=True).first()
        if creator is not None:
            marks.append(f"user:{creator}")
    return marks


def _note_writer(version: TemplateVersion, actor: Actor) -> None:
    version.writers = [*version.writers, *(m for m in _writer_marks(actor) if m not in version.writers)]


def _version(version: TemplateVersion, *statuses: str) -> TemplateVersion:
    version = (
        TemplateVersion.objects.select_for_update().select_related("template__account").get(pk=version.pk)
    )
    if version.status not in statuses:
        raise ServiceError(
            _("Version %(n)s is %(status)s: that cannot be done now.")
            % {"n": version.number, "status": VersionStatus(version.status).label.lower()}
        )
    return version


def _record(version: TemplateVersion, action: str, actor: Actor, **details) -> None:
    audit_record(
        actor=actor,
        action=action,
        account=version.template.account,
        target=version.template,
        details={"version": version.number, **details},
    )


@transaction.atomic
def version_submit(*, version: TemplateVersion, actor: Actor) -> TemplateVersion:
    """Ask the account's reviewers to approve a draft (it can no longer be edited meanwhile)."""
    version = _version(version, VersionStatus.DRAFT)
    if version.template.kind == TemplateKind.EMAIL and (
        not version.subject or not (version.html_body or version.text_body)
    ):
        raise ServiceError(_("A template needs a subject and a body before it can be submitted."))
    if version.template.kind == TemplateKind.SMS and not version.text_body.strip():
        raise ServiceError(_("An SMS template needs its text before it can be submitted."))
    version.status = VersionStatus.SUBMITTED
    version.submitted_by, version.submitted_at = actor.user, timezone.now()
    version.save(update_fields=["status", "submitted_by", "submitted_at"])
    _record(version, "template.submit", actor)
    version.spam_score, version.spam_report = None, {}
    version.save(update_fields=["spam_score", "spam_report"])
    # Scored before the reviewers look (templates_app.spam; nothing when SPAMD_URL is not set).
    transaction.on_commit(lambda: async_task("templates_app.tasks.spam_check", version.pk))
    transaction.on_commit(lambda: async_task("templates_app.tasks.notify_reviewers", version.pk))
    return version


@transaction.atomic
def version_withdraw(*, version: TemplateVersion, actor: Actor) -> TemplateVersion:
    """Take a submitted version back to draft, to change it."""
    version = _version(version, VersionStatus.SUBMITTED)
    version.status, version.submitted_at, version.submitted_by = VersionStatus.DRAFT, None, None
    version.save(update_fields=["status", "submitted_at", "submitted_by"])
    _record(version, "template.withdraw", actor)
    return version


def _check_reviewer(version: TemplateVersion, actor: Actor) -> None:
    account = version.template.account
    if actor.user is not None:
        membership = account.membership_for(actor.user)
        if membership is None or membership.role not in PERMISSIONS[Perm.REVIEW_TEMPLATES]:
            raise ServiceError(_("Only reviewers, admins and owners review templates."))
        if account.templates_need_second_person and (
            actor.user.pk in (version.submitted_by_id, version.author_id)
            or f"user:{actor.user.pk}" in version.writers
        ):
            raise ServiceError(_("This account wants someone other than the author to review a version."))


@transaction.atomic
def version_approve(*, version: TemplateVersion, actor: Actor) -> TemplateVersion:
    """Approve a submitted version: from now on it is what sending this template uses."""
    version = _version(version, VersionStatus.SUBMITTED)
    _check_reviewer(version, actor)
    template = _locked(version.template)
    template.versions.filter(status=VersionStatus.APPROVED).update(status=VersionStatus.SUPERSEDED)
    version.status = VersionStatus.APPROVED
    version.reviewed_by, version.reviewed_at, version.review_comment = actor.user, timezone.now(), ""
    version.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_comment"])
    template.approved_version = version
    template.save(update_fields=["approved_version"])
    _record(version, "template.approve", actor)
    transaction.on_commit(lambda: async_task("templates_app.tasks.notify_author", version.pk))
    return version


@transaction.atomic
def version_reject(*, version: TemplateVersion, comment: str, actor: Actor) -> TemplateVersion:
    """Reject a submitted version, saying why (the author sees the comment)."""
    comment = comment.strip()
    if not comment:
        raise ServiceError(_("Say why the version is rejected: the author needs to know what to change."))
    version = _version(version, VersionStatus.SUBMITTED)
    _check_reviewer(version, actor)
    version.status = VersionStatus.REJECTED
    version.reviewed_by, version.reviewed_at, version.review_comment = actor.user, timezone.now(), comment
    version.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_comment"])
    _record(version, "template.reject", actor, comment=comment[:500])
    transaction.on_commit(lambda: async_task("templates_app.tasks.notify_author", version.pk))
    return version


@transaction.atomic
def template_delete(*, template: Template, actor: Actor) -> None:
    audit_record(actor=actor, action="template.delete", account=template.account, target=template)
    template.delete()


def _review_url(version: TemplateVersion) -> str:
    template = version.template
    return settings.PUBLIC_BASE_URL + reverse(
        "templates_app:template_detail", args=[template.account.public_id, template.public_id]
    )


def notify_reviewers(*, version: TemplateVersion) -> None:
    """Mail the account's reviewers that a version waits for them (not the one who submitted it)."""
    account = version.template.account
    roles = PERMISSIONS[Perm.REVIEW_TEMPLATES]
    recipients = [
        m.user.email
        for m in account.memberships.select_related("user").filter(role__in=roles)
        if m.user_id != version.submitted_by_id
    ]
    if recipients:
        _mail("template_submitted", {"version": version, "url": _review_url(version)}, recipients)


def notify_author(*, version: TemplateVersion) -> None:
    if version.submitted_by is not None:
        _mail(
            "template_decided",
            {"version": version, "url": _review_url(version)},
            [version.submitted_by.email],
        )


def _mail(name: str, context: dict, recipients: list[str]) -> None:
    mail_people(name, context, recipients, account=context["version"].template.account)
