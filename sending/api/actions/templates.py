"""Templates over the API: CreateTemplate, ModifyTemplate, DeleteTemplate, DescTemplate,
QueryTemplateByParam. As in DirectMail, what the API writes goes to review: people with the reviewer role
approve it in the console before it can be sent.

TemplateStatus: 0 draft, 1 waiting for review, 2 approved, 3 rejected (of the newest version).
TemplateType: 0 email (the default), 1 SMS.
"""

from django.db.models import OuterRef, Subquery

from sending.api.actions import action, actor
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, by_api_id, dm_time, epoch, refused
from templates_app import services
from templates_app.models import BodyFormat, Template, TemplateKind, TemplateVersion, VersionStatus

STATUS_CODES: dict[str, int] = {
    VersionStatus.DRAFT: 0,
    VersionStatus.SUBMITTED: 1,
    VersionStatus.APPROVED: 2,
    VersionStatus.SUPERSEDED: 2,
    VersionStatus.REJECTED: 3,
}
TYPES = {0: TemplateKind.EMAIL, 1: TemplateKind.SMS}


def _template(caller: Caller, p: Params) -> Template:
    _from_type(p)
    return by_api_id(
        caller.key.account.templates.all(), p, "TemplateId", "InvalidTemplate.NotFound", "template"
    )


def _from_type(p: Params) -> None:
    """FromType: DirectMail's deprecated channel of the caller (1 by default); any small number."""
    p.integer("FromType", default=1, minimum=0, maximum=10)


def _content(p: Params, kind: str, latest: TemplateVersion | None = None) -> dict:
    """The version's content from the call; with `latest` (ModifyTemplate) what the call leaves out is
    kept from the newest version. FromType, SmsType and Remark are DirectMail's deprecated SMS fields:
    read and checked, nothing here sends SMS by them."""
    _from_type(p)
    p.integer("SmsType", default=0, minimum=0, maximum=10)
    p.text("Remark", max_length=100)
    if kind == TemplateKind.SMS:
        if latest is not None and not p.has("SmsContent"):
            return {"text_body": latest.text_body}
        return {"text_body": p.text("SmsContent", required=True, max_length=500)}
    if p.text("SmsContent").strip():
        raise ApiError("InvalidParameter", "SmsContent is for SMS templates (TemplateType 1).")
    subject = p.text("TemplateSubject", required=latest is None, max_length=256)
    html = p.text("TemplateText", required=latest is None, max_length=1_000_000)
    alias = p.text("TemplateNickName", max_length=30)
    if latest is None:
        return {"subject": subject, "html_body": html, "text_body": "", "from_alias": alias}
    return {
        "subject": subject if p.has("TemplateSubject") else latest.subject,
        # TemplateText is HTML; left out, the newest version's source (HTML or MJML) stays.
        "html_body": html if p.has("TemplateText") else (latest.source or latest.html_body),
        "body_format": BodyFormat.HTML if p.has("TemplateText") else latest.body_format,
        "text_body": latest.text_body,
        "from_alias": alias if p.has("TemplateNickName") else latest.from_alias,
    }


def _submit(caller: Caller, version: TemplateVersion) -> None:
    with refused("TemplateText"):
        services.version_submit(version=version, actor=actor(caller))


@action("CreateTemplate")
def create_template(caller: Caller, p: Params) -> dict:
    kind = TYPES[p.integer("TemplateType", default=0, minimum=0, maximum=1)]
    content = _content(p, kind)
    with refused("TemplateName", "InvalidTemplateName.Malformed"):
        template = services.template_create(
            account=caller.key.account,
            name=p.text("TemplateName", required=True),
            kind=kind,
            actor=actor(caller),
            **content,
        )
    _submit(caller, template.latest_version())
    return {"TemplateId": template.api_id}


@action("ModifyTemplate")
def modify_template(caller: Caller, p: Params) -> dict:
    """Rename, and replace the content with a new version that goes to review (a version already waiting
    for review is withdrawn first; the approved version stays in use until the new one is approved).
    What the call leaves out stays as the newest version has it; a call that changes only the name makes
    no new version."""
    template = _template(caller, p)
    name = p.text("TemplateName", max_length=30).strip() or template.name
    latest = template.latest_version()
    content = _content(p, template.kind, latest)
    with refused("TemplateName", "InvalidTemplateName.Malformed"):
        services.template_update_info(
            template=template, name=name, description=template.description, actor=actor(caller)
        )
    written = {
        **{field: getattr(latest, field) for field in content},
        "html_body": latest.source or latest.html_body,
    }
    unchanged = all(written[field] == value for field, value in content.items())
    if unchanged:
        return {}
    if latest.status == VersionStatus.SUBMITTED:
        services.version_withdraw(version=latest, actor=actor(caller))
    with refused("TemplateText"):
        version = services.template_edit(template=template, actor=actor(caller), **content)
    _submit(caller, version)
    return {}


@action("DeleteTemplate")
def delete_template(caller: Caller, p: Params) -> dict:
    services.template_delete(template=_template(caller, p), actor=actor(caller))
    return {}


@action("DescTemplate")
def desc_template(caller: Caller, p: Params) -> dict:
    template = _template(caller, p)
    latest = template.latest_version()
    zone = caller.key.account.time_zone
    return {
        "TemplateName": template.name,
        "TemplateSubject": latest.subject,
        "TemplateNickName": latest.from_alias,
        "TemplateText": latest.html_body if template.kind == TemplateKind.EMAIL else latest.text_body,
        "SmsContent": latest.text_body if template.kind == TemplateKind.SMS else "",
        "TemplateStatus": str(STATUS_CODES[latest.status]),
        "TemplateType": "1" if template.kind == TemplateKind.SMS else "0",
        "CreateTime": dm_time(template.created_at, zone),
        # Beyond DirectMail: which version is newest, which one sending uses, and a rejection's reason.
        "Version": latest.number,
        "ApprovedVersion": template.approved_version.number if template.approved_version else 0,
        "TemplateComment": latest.review_comment,
    }


@action("QueryTemplateByParam")
def query_template_by_param(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    _from_type(p)
    templates = account.templates.order_by("name")
    if keyword := p.text("KeyWord", max_length=30).strip():
        templates = templates.filter(name__icontains=keyword)
    if p.text("Status").strip():
        # Of the newest version, as TemplateStatus says.
        wanted = p.integer("Status", minimum=0, maximum=3)
        states = [state for state, code in STATUS_CODES.items() if code == wanted]
        newest = TemplateVersion.objects.filter(template=OuterRef("pk")).order_by("-number").values("status")
        templates = templates.annotate(newest=Subquery(newest[:1])).filter(newest__in=states)
    rows, paging = p.page(templates, default_size=20)  # DirectMail's default for this action
    latest: dict[int, TemplateVersion] = {}
    for version in TemplateVersion.objects.filter(template__in=rows).order_by("template", "-number"):
        latest.setdefault(version.template_id, version)
    items = [
        {
            "TemplateId": str(t.api_id),
            "TemplateName": t.name,
            "TemplateStatus": str(STATUS_CODES[latest[t.pk].status]),
            "TemplateType": 1 if t.kind == TemplateKind.SMS else 0,
            "TemplateComment": latest[t.pk].review_comment,
            "CreateTime": dm_time(t.created_at, account.time_zone),
            "UtcCreatetime": epoch(t.created_at),
        }
        for t in rows
    ]
    return {**paging, "data": {"template": items}}


def approved_content(caller: Caller, reference: dict, param: str) -> TemplateVersion:
    """The approved version of the email template a sending call names by TemplateId or TemplateName."""
    templates = caller.key.account.templates.select_related("approved_version")
    if reference.get("TemplateId") not in (None, ""):
        try:
            template = templates.filter(api_id=int(reference["TemplateId"])).first()
        except (TypeError, ValueError):
            template = None
    else:
        template = templates.filter(name=str(reference.get("TemplateName", ""))).first()
    if template is None or template.kind != TemplateKind.EMAIL:
        raise ApiError("InvalidTemplate.NotFound", f"{param}: there is no such email template.", 404)
    if template.approved_version is None:
        raise ApiError(
            "InvalidTemplate.NotApproved", f"{param}: template {template.name} has no approved version yet."
        )
    return template.approved_version
