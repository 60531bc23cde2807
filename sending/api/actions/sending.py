"""Sending over the API: SingleSendMail, BatchSendMail and SendTestByTemplate through the one enqueue
service, and QueryTaskByParam (the batch sends).

Both are sending actions: rate-limited per account, idempotent with an Idempotency-Key (the endpoint
refuses every action from addresses outside the account's IP protection list). A sending handler checks
everything first (reads only) and returns the store step, which the endpoint runs in the call's one short
transaction.
"""

import re
from collections.abc import Callable
from dataclasses import replace

from django.db.models import Q

from sending.api.actions import action, actor
from sending.api.actions import egress as egress_actions
from sending.api.actions.templates import approved_content
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, by_api_id, dm_time, epoch, refused
from sending.models import BatchJob, BatchStatus, Envelope, SenderAddress, SendType
from sending.services import attachments, batch
from sending.services import messages as service
from templates_app.models import TemplateKind

MAX_BATCH_RECEIVERS = 100


def _headers(p: Params) -> dict[str, str]:
    return {str(k): str(v) for k, v in p.json("Headers").items()}


UNSUBSCRIBE_LINK_TYPES = ("disabled", "default")
UNSUBSCRIBE_FILTER_LEVELS = ("disabled", "default", "mailfrom", "mailfrom_domain", "edm_id")


def _attachment_specs(p: Params) -> list[tuple[str, str]]:
    """Attachments as the SDK sends them (`Attachments.1.AttachmentName`, `Attachments.1.AttachmentUrl`,
    ...) or as one JSON array of {"AttachmentName", "AttachmentUrl"} objects."""
    if p.has("Attachments"):
        entries = p.json("Attachments", kind=list)
        if not all(isinstance(e, dict) for e in entries):
            message = "Attachments: a JSON array of {AttachmentName, AttachmentUrl}."
            raise ApiError("InvalidAttachment", message)
        return [(str(e.get("AttachmentName", "")), str(e.get("AttachmentUrl", ""))) for e in entries]
    numbers: set[int] = set()
    for name in p.raw:
        match = _ATTACHMENT_PARAM.match(name)
        if name.startswith("Attachments.") and not match:
            message = f"{name}: give Attachments.N.AttachmentName and .AttachmentUrl."
            raise ApiError("InvalidAttachment", message)
        if match:
            numbers.add(int(match.group(1)))
    if numbers and sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise ApiError("InvalidAttachment", "Attachments: number them from 1 without gaps.")
    return [
        (p.text(f"Attachments.{n}.AttachmentName"), p.text(f"Attachments.{n}.AttachmentUrl"))
        for n in sorted(numbers)
    ]


_ATTACHMENT_PARAM = re.compile(r"^Attachments\.([1-9][0-9]{0,3})\.(AttachmentName|AttachmentUrl)$")


def _unsubscribe_params(p: Params) -> tuple[str, str]:
    """UnSubscribeLinkType and UnSubscribeFilterLevel, checked ("default" when not given)."""
    values = []
    for name, allowed in (
        ("UnSubscribeLinkType", UNSUBSCRIBE_LINK_TYPES),
        ("UnSubscribeFilterLevel", UNSUBSCRIBE_FILTER_LEVELS),
    ):
        value = p.text(name).strip().lower() or "default"
        if value not in allowed:
            raise ApiError("InvalidParameter", f"{name} must be one of {', '.join(allowed)}.")
        values.append(value)
    return values[0], values[1]


def _common(caller: Caller, p: Params) -> int | None:
    """Parameters both sending actions check the same way; returns the IpPoolId's pool (its id)."""
    address_type = p.text("AddressType").strip()
    if address_type not in ("", "0", "1"):
        raise ApiError("InvalidParameter", "AddressType must be 0 (random account) or 1 (sender address).")
    # DomainAuth (domain-level authentication): the access key already authorizes every sender address of
    # the account's domains, so true and false send alike; anything else is refused.
    p.boolean("DomainAuth")
    pool = egress_actions.pool_for_sending(caller, p)
    return pool.pk if pool else None


def _mail(
    caller: Caller, p: Params, *, sender, to, content: service.Content, variables=None, bcc: str = ""
) -> service.Mail:
    """The Mail of a sending call, with the parameters both sending actions share."""
    pool_id = _common(caller, p)
    link, level = _unsubscribe_params(p)
    content = replace(
        content,
        unsubscribe_link=link == "default",
        unsubscribe_providers_only=True,
        unsubscribe_filter=level,
        unsubscribe_level=UNSUBSCRIBE_LEVELS.get(level, "sender"),
        reply_to=p.text("ReplyAddress", max_length=254),
        reply_to_alias=p.text("ReplyAddressAlias", max_length=64),
        headers=_headers(p),
        click_trace=p.text("ClickTrace").strip() == "1",
    )
    return service.Mail(
        account=caller.key.account,
        sender=sender,
        to=to,
        content=content,
        tag_name=p.text("TagName", max_length=128),
        variables=variables or {},
        bcc=bcc,
        source=Envelope.Source.API,
        ip_pool_id=pool_id,
    )


def _template_content(caller: Caller, p: Params) -> tuple[service.Content, dict[str, str]]:
    """Subject and bodies from the approved version of the call's `Template`, and its TemplateData."""
    if p.text("HtmlBody") or p.text("TextBody"):
        raise ApiError("InvalidParameter", "Template: give either Template or HtmlBody/TextBody, not both.")
    reference = p.json("Template")
    data = reference.get("TemplateData") or {}
    if not isinstance(data, dict):
        raise ApiError("InvalidParameter", "Template.TemplateData must be an object of names and values.")
    version = approved_content(caller, reference, "Template")
    content = service.Content(
        subject=version.subject,
        html_body=version.html_body,
        text_body=version.text_body,
        from_alias=version.from_alias,
        templated=True,
    )
    return content, _template_data(data, "Template.TemplateData")


# Control characters but tab and line breaks: no text a person writes holds them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _template_data(data: dict, param: str) -> dict[str, str]:
    """TemplateData as text; values with control characters are refused (line breaks are kept for the
    bodies and become spaces in a subject)."""
    values = {str(k): str(v) for k, v in data.items()}
    if any(_CONTROL.search(value) for value in values.values()):
        raise ApiError("InvalidParameter", f"{param}: values must not contain control characters.")
    return values


@action("SingleSendMail", sending=True)
def single_send_mail(caller: Caller, p: Params) -> Callable[[], dict]:
    to: str | list[str] = p.text("ToAddress", required=True)
    variables = None
    if p.has("Template"):
        content, data = _template_content(caller, p)
        with refused("ToAddress"):
            to = service.parse_recipients(to)
        variables = dict.fromkeys(to, data)
    else:
        content = service.Content(
            subject=p.text("Subject", required=True),
            html_body=p.text("HtmlBody"),
            text_body=p.text("TextBody"),
        )
    content = replace(
        content,
        from_alias=p.text("FromAlias") or content.from_alias,  # a template's sender name unless given
        use_sender_reply_to=p.boolean("ReplyToAddress", default=True),
    )
    sender = p.text("AccountName", required=True)
    with refused():
        mail = _mail(
            caller, p, sender=sender, to=to, content=content, variables=variables, bcc=p.text("BccAddress")
        )
        prepared = service.mail_prepare(mail)  # everything else is checked before any file is fetched
        specs = _attachment_specs(p)
        if specs:
            content = replace(prepared.content, attachments=attachments.fetch_all(specs))
            service.check_attachments(content)
            prepared = replace(prepared, content=content)
    return _store(prepared)


def _store(
    prepared: service.PreparedMail, then: Callable[[service.Enqueued], object] | None = None
) -> Callable[[], dict]:
    def store() -> dict:
        with refused():
            # The endpoint's transaction ends with any refusal, so no savepoint of our own.
            enqueued = service.mail_store(prepared, savepoint=False)
        if then is not None:
            then(enqueued)
        return {"EnvId": enqueued.env_id}

    return store


def _receivers(p: Params) -> dict[str, dict]:
    """Inline Receivers: `[{"To": [...] or "a,b", "TemplateData": {...}}]` -> {address: variables}."""
    entries = p.json("Receivers", required=True, kind=list)
    if not entries or len(entries) > MAX_BATCH_RECEIVERS:
        raise ApiError("InvalidParameter", f"Receivers: give 1 to {MAX_BATCH_RECEIVERS} entries.")
    variables: dict[str, dict] = {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "To" not in entry:
            raise ApiError("InvalidParameter", f'Receivers[{number}]: each entry needs "To".')
        data = entry.get("TemplateData") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str | int | float) for v in data.values()):
            raise ApiError(
                "InvalidParameter", f"Receivers[{number}].TemplateData: an object of names and values."
            )
        values = _template_data(data, f"Receivers[{number}].TemplateData")
        with refused(f"Receivers[{number}].To"):
            for address in service.parse_recipients(entry["To"], MAX_BATCH_RECEIVERS):
                variables[address] = values
    if len(variables) > MAX_BATCH_RECEIVERS:
        raise ApiError(
            "InvalidToAddress.Exceeded", f"Receivers: at most {MAX_BATCH_RECEIVERS} recipients per call."
        )
    return variables


@action("BatchSendMail", sending=True)
def batch_send_mail(caller: Caller, p: Params) -> Callable[[], dict]:
    """A batch sender address, inline Receivers with an approved template (TemplateName) or inline
    TemplateContent; one EnvId for all of them; or TemplateName + ReceiversName (a stored list), a batch job.
    """
    account = caller.key.account
    if p.text("BccAddress").strip():
        raise ApiError("InvalidParameter", "BccAddress: BatchSendMail has no Bcc (SingleSendMail has).")
    address = p.text("AccountName", required=True).strip().lower()
    sender = (
        SenderAddress.objects.alive()
        .select_related("domain")
        .filter(account=account, address=address)
        .first()
    )
    if sender is None:
        raise ApiError(
            "InvalidMailAddress.NotFound",
            f"AccountName: {address} is not a sender address of this account.",
            404,
        )
    if sender.send_type != SendType.BATCH:
        raise ApiError(
            "InvalidMailAddressSendType.Malformed",
            f"AccountName: {address} is a trigger address; BatchSendMail sends from batch addresses.",
        )
    # DirectMail's precedence: TemplateName over TemplateContent, ReceiversName over Receivers.
    version = None
    if p.text("TemplateName").strip() or not p.has("TemplateContent"):
        reference = {"TemplateName": p.text("TemplateName", required=True)}
        version = approved_content(caller, reference, "TemplateName")
        content = {
            "Subject": version.subject, "HtmlBody": version.html_body, "TextBody": version.text_body,
            "Alias": version.from_alias,
        }  # fmt: skip
        p.has("TemplateContent")  # read, and set aside by the precedence
    else:
        content = p.json("TemplateContent", required=True)
    if p.text("ReceiversName").strip():
        p.has("Receivers")  # read, and set aside by the precedence
        return _list_job(caller, p, sender, version)
    variables = _receivers(p)
    subject, html_body = str(content.get("Subject", "")), str(content.get("HtmlBody", ""))
    text_body = str(content.get("TextBody", ""))
    mail_content = service.Content(
        subject=subject, html_body=html_body, text_body=text_body, from_alias=str(content.get("Alias", "")),
        templated=True,
    )  # fmt: skip
    with refused():
        prepared = service.mail_prepare(
            _mail(caller, p, sender=sender, to=list(variables), content=mail_content, variables=variables)
        )
    template = version.template if version else None
    return _store(
        prepared,
        lambda enqueued: batch.job_record_inline(
            prepared=prepared, enqueued=enqueued, template=template, actor=actor(caller)
        ),
    )


def _list_job(caller: Caller, p: Params, sender: SenderAddress, version) -> Callable[[], dict]:
    """TemplateName + ReceiversName: a batch job for the stored list, started now (its fan-out runs in
    the worker); the answer is its EnvId."""
    account = caller.key.account
    name = p.text("ReceiversName", max_length=30)
    recipient_list = account.recipient_lists.filter(name=name).first()
    if recipient_list is None:
        raise ApiError(
            "InvalidReceiver.NotFound", f"ReceiversName: there is no recipient list named {name}.", 404
        )
    if version is None:
        raise ApiError(
            "InvalidParameter", "ReceiversName: a stored list is sent with TemplateName, not TemplateContent."
        )
    tag = None
    if tag_name := p.text("TagName", max_length=128):
        tag = account.tags.filter(name=tag_name).first()
        if tag is None:
            raise ApiError("InvalidTag.NotFound", f"TagName: there is no tag named {tag_name}.", 404)
    pool_id = _common(caller, p)
    link, level = _unsubscribe_params(p)
    if level == "disabled":
        raise ApiError(
            "InvalidParameter",
            "UnSubscribeFilterLevel: a batch send to a stored list always filters unsubscribes; give "
            "mailfrom, mailfrom_domain or edm_id.",
        )
    reply_to, reply_alias = p.text("ReplyAddress", max_length=254), p.text("ReplyAddressAlias", max_length=64)
    with refused():
        service.check_reply_to(reply_to, reply_alias)
        headers = service.check_headers(_headers(p))
    job = BatchJob(
        account=account,
        name=f"BatchSendMail {recipient_list.name}",
        reply_to=reply_to,
        reply_to_alias=reply_alias,
        headers=headers,
        template=version.template,
        recipient_list=recipient_list,
        sender=sender,
        tag=tag,
        click_trace=p.text("ClickTrace").strip() == "1",
        unsubscribe_link=link != "disabled",
        unsubscribe_level=UNSUBSCRIBE_LEVELS.get(level, "sender"),
        ip_pool_id=pool_id,
    )

    def store() -> dict:
        with refused("ReceiversName"):
            batch.job_save(job=job, actor=actor(caller))
            started = batch.job_confirm(job=job, actor=actor(caller), start_now=True)
        assert started.envelope is not None  # a job started now has its envelope
        return {"EnvId": started.envelope.env_id}

    return store


def _task_egress(job: BatchJob) -> dict:
    """The pool a task's mail leaves by (the call's, else its sender's configuration set's), and the set."""
    config = job.envelope.config_set if job.envelope else job.sender.config_set
    pool = job.ip_pool or (config.ip_pool if config else None)
    return {
        "IpPoolId": str(pool.api_id) if pool else "",
        "IpPoolName": pool.name if pool else "",
        "ConfigSetId": str(config.api_id) if config else "",
        "ConfigSetName": config.name if config else "",
    }


# DirectMail's UnSubscribeFilterLevel -> whose mail an unsubscribe stops.
UNSUBSCRIBE_LEVELS = {"mailfrom": "sender", "mailfrom_domain": "domain", "edm_id": "account"}


# QueryTaskByParam's TaskStatus: DirectMail answers 1 for a send that is done; ours also say the rest.
TASK_STATUS = {
    BatchStatus.SCHEDULED: 0,
    BatchStatus.SENDING: 0,
    BatchStatus.PAUSED: 0,
    BatchStatus.DONE: 1,
    BatchStatus.CANCELLED: 2,
    BatchStatus.FAILED: 3,
}


@action("QueryTaskByParam")
def query_task_by_param(caller: Caller, p: Params) -> dict:
    """The batch sends (BatchSendMail calls and the console's confirmed batch sends), newest first. Status:
    0 waiting or sending (scheduled, sending, paused), 1 done, 2 cancelled, 3 failed. KeyWord matches the
    send's, its template's or its list's name."""
    account = caller.key.account
    jobs = BatchJob.objects.filter(account=account, status__in=list(TASK_STATUS)).select_related(
        "template", "recipient_list", "tag"
    )
    if keyword := p.text("KeyWord", max_length=100).strip():
        jobs = jobs.filter(
            Q(name__icontains=keyword)
            | Q(template__name__icontains=keyword)
            | Q(recipient_list__name__icontains=keyword)
        )
    if p.text("Status").strip():
        status = p.integer("Status", minimum=0, maximum=3)
        jobs = jobs.filter(status__in=[s for s, code in TASK_STATUS.items() if code == status])
    rows, paging = p.page(jobs.order_by("-created_at", "-pk"))
    zone = account.time_zone
    items = [
        {
            "TaskId": str(job.pk),
            "TaskStatus": str(TASK_STATUS[job.status]),
            "TemplateName": job.template.name if job.template else "",
            "ReceiversName": job.recipient_list.name if job.recipient_list else "",
            "TagName": job.tag.name if job.tag else "",
            "RequestCount": str(job.total),
            "AddressType": "1",
            "CreateTime": dm_time(job.created_at, zone),
            "UtcCreateTime": epoch(job.created_at),
            **_task_egress(job),
        }
        for job in rows
    ]
    return {**paging, "data": {"task": items}}


_TEST_FIELDS = {"UserName": 30, "NickName": 30, "Gender": 30, "Birthday": 30, "Mobile": 30}


@action("SendTestByTemplate", sending=True)
def send_test_by_template(caller: Caller, p: Params) -> Callable[[], dict]:
    """The newest version of a template (approved or not), to one address, filled with the given fields
    and TemplateParams: the console's test send. It counts against the quota like any mail."""
    template = by_api_id(
        caller.key.account.templates.all(), p, "TemplateId", "InvalidTemplate.NotFound", "template"
    )
    if template.kind != TemplateKind.EMAIL:
        raise ApiError("InvalidTemplate.NotFound", "TemplateId: not an email template.", 404)
    version = template.latest_version()
    data = {name: p.text(name, max_length=size) for name, size in _TEST_FIELDS.items() if p.has(name)}
    data |= _template_data(p.json("TemplateParams"), "TemplateParams")
    to = p.text("Email", required=True, max_length=60)
    content = service.Content(
        subject=version.subject or template.name,
        html_body=version.html_body,
        text_body=version.text_body,
        templated=True,
    )
    with refused():
        [address] = service.parse_recipients(to, 1, param="Email")
        prepared = service.mail_prepare(
            service.Mail(
                account=caller.key.account,
                sender=p.text("AccountName", required=True, max_length=60),
                to=[address],
                content=content,
                variables={address: data},
                source=Envelope.Source.API,
            )
        )
    return _store(prepared)
