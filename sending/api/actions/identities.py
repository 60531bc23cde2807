"""Domains, sender addresses and tags over the API (QueryDomainByParam ... DeleteTag).

Ids are the objects' numeric `api_id`s; only the caller's own objects are found. Statuses use DirectMail's
codes: "0" for verified / normal, "1" for not.
"""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.db.models import Count, Q

from sending import dkim as dkim_keys
from sending import domain_records
from sending.api.actions import action, actor
from sending.api.auth import ApiError, Caller
from sending.api.params import Params, by_api_id, dm_time, epoch, refused
from sending.models import (
    CheckStatus,
    DkimKeyStatus,
    DnsRecordCheck,
    Domain,
    DomainStatus,
    Envelope,
    Message,
    RecordKind,
    SenderAddress,
    SendType,
)
from sending.services import domains as domain_service
from sending.services import senders as sender_service
from sending.services import tags as tag_service


def _ok(flag: bool) -> str:
    return "0" if flag else "1"


# -- domains


def _domain(caller: Caller, p: Params) -> Domain:
    queryset = Domain.objects.alive().own().filter(account=caller.key.account)  # DirectMail has no sandbox
    return by_api_id(queryset, p, "DomainId", "InvalidDomain.NotFound", "domain")


def _checks(domain: Domain) -> dict[str, DnsRecordCheck]:
    """The last check of each record kind (the signing key's for DKIM)."""
    checks = {}
    for check in domain.record_checks.select_related("dkim_key"):
        if check.kind == RecordKind.DKIM and (
            check.dkim_key is None or check.dkim_key.status != DkimKeyStatus.ACTIVE
        ):
            continue
        checks[check.kind] = check
    return checks


def _verified(checks: dict, kind: str) -> bool:
    return kind in checks and checks[kind].status == CheckStatus.VERIFIED


@action("QueryDomainByParam")
def query_domain_by_param(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    queryset = Domain.objects.alive().own().filter(account=account).order_by("-created_at", "-pk")
    keyword = p.text("KeyWord", max_length=253).strip().lower()
    if keyword:
        queryset = queryset.filter(name__contains=keyword)
    status = p.integer("Status", default=-1, minimum=-1, maximum=1)
    if status == 0:
        queryset = queryset.filter(status=DomainStatus.VERIFIED)
    elif status == 1:
        queryset = queryset.exclude(status=DomainStatus.VERIFIED)
    domains, paging = p.page(queryset.prefetch_related("record_checks__dkim_key"))
    items = []
    for domain in domains:
        checks = _checks(domain)
        items.append(
            {
                "DomainId": str(domain.api_id),
                "DomainName": domain.name,
                "DomainStatus": _ok(domain.status == DomainStatus.VERIFIED),
                "ConfirmStatus": _ok(_verified(checks, RecordKind.OWNERSHIP)),
                "SpfAuthStatus": _ok(_verified(checks, RecordKind.SPF)),
                "MxAuthStatus": _ok(_verified(checks, RecordKind.MX)),
                "DomainRecord": domain_records.records_to_publish(domain)[0].value,
                "CreateTime": dm_time(domain.created_at, account.time_zone),
                "UtcCreateTime": epoch(domain.created_at),
            }
        )
    return {**paging, "data": {"domain": items}}


@action("CreateDomain")
def create_domain(caller: Caller, p: Params) -> dict:
    name = p.text("DomainName", required=True, max_length=253)
    selector = p.text("dkimSelector", max_length=63)
    with refused("DomainName", "InvalidDomainName.Malformed"):
        domain = domain_service.domain_create(
            account=caller.key.account, name=name, selector=selector, actor=actor(caller)
        )
    return {"DomainId": str(domain.api_id)}


@action("ModifyPWByDomain")
def modify_pw_by_domain(caller: Caller, p: Params) -> dict:
    """The domain-wide SMTP password: every sender address of the domain may log in with it (SMTP AUTH with
    the address as the user name), besides its own password."""
    name = p.text("DomainName", required=True, max_length=253).strip().lower().rstrip(".")
    domain = Domain.objects.alive().own().filter(account=caller.key.account, name=name).first()
    if domain is None:
        raise ApiError("InvalidDomain.NotFound", f"DomainName: {name} is not a domain of this account.", 404)
    with refused("Password", "InvalidPassword.Malformed"):
        sender_service.domain_set_smtp_password(
            domain=domain, password=p.text("Password", required=True, max_length=64), actor=actor(caller)
        )
    return {"Success": True, "Code": "OK", "Message": "The domain's SMTP password is set."}


@action("ChangeDomainDkimRecord")
def change_domain_dkim_record(caller: Caller, p: Params) -> dict:
    """A new key of DkimRsaLength bits (1024 or 2048) through the console's rotation: it signs once its
    record (Hostname, DkimPublicKey) is published and verified; the old key signs until then. Changed is
    false when the signing key (or the one waiting for DNS) already has that length."""
    bits = p.integer("DkimRsaLength", default=2048)
    if bits not in dkim_keys.KEY_SIZES:
        raise ApiError("InvalidParameter", "DkimRsaLength must be 1024 or 2048.")
    name = p.text("Domain", required=True, max_length=253).strip().lower().rstrip(".")
    domain = Domain.objects.alive().own().filter(account=caller.key.account, name=name).first()
    if domain is None:
        raise ApiError("InvalidDomain.NotFound", f"Domain: {name} is not a domain of this account.", 404)
    zone = domain_records.registrable_domain(domain.name) or domain.name
    pending = domain.dkim_keys.filter(status=DkimKeyStatus.PENDING).first()
    current = pending or domain.active_dkim_key()
    changed = current is None or current.bits != bits
    if changed:
        if pending is not None:
            raise ApiError(
                "InvalidDomain.DkimPending",
                f"Domain: a {pending.bits}-bit key is waiting for its DNS record; publish it and check it "
                "first.",
            )
        with refused("Domain"):
            current = domain_service.dkim_rotate(domain=domain, bits=bits, actor=actor(caller))
    assert current is not None
    host = current.record_name.removesuffix("." + zone) if current.record_name != zone else "@"
    return {"Changed": changed, "DkimRsaLength": bits, "DkimPublicKey": current.public_key, "Hostname": host}


@action("DescDomain")
def desc_domain(caller: Caller, p: Params) -> dict:
    domain = _domain(caller, p)
    if p.boolean("RequireRealTimeDnsRecords"):
        domain = domain_service.domain_check(domain=domain)
    # One spec per kind; for DKIM the signing key's (a rotated key waiting for DNS shows in the console).
    specs: dict[str, domain_records.RecordSpec] = {}
    for spec in domain_records.records_to_publish(domain):
        if spec.kind != RecordKind.DKIM or spec.required:
            specs.setdefault(spec.kind, spec)
    ownership, spf, dkim = specs[RecordKind.OWNERSHIP], specs[RecordKind.SPF], specs.get(RecordKind.DKIM)
    dmarc, mx = specs[RecordKind.DMARC], specs[RecordKind.MX]
    checks = _checks(domain)
    zone = domain_records.registrable_domain(domain.name) or domain.name

    def found(kind: str) -> str:
        return checks[kind].found if kind in checks else ""

    return {
        "DomainId": str(domain.api_id),
        "DomainName": domain.name,
        "DomainStatus": _ok(domain.status == DomainStatus.VERIFIED),
        "TlDomainName": zone,
        "HostRecord": ownership.host,
        "DomainType": ownership.value,
        "SpfRecord": spf.value,
        "SpfRecordV2": spf.value,
        "DkimRR": dkim.host if dkim else "",
        "DkimPublicKey": dkim.dkim_key.public_key if dkim and dkim.dkim_key else "",
        "DkimRsaLength": dkim.dkim_key.bits if dkim and dkim.dkim_key else 2048,
        "DmarcHostRecord": dmarc.host,
        "DmarcRecord": dmarc.value,
        "MxRecord": mx.value,
        "SpfAuthStatus": _ok(_verified(checks, RecordKind.SPF)),
        "DkimAuthStatus": _ok(_verified(checks, RecordKind.DKIM)),
        "DmarcAuthStatus": 0 if _verified(checks, RecordKind.DMARC) else 1,
        "MxAuthStatus": _ok(_verified(checks, RecordKind.MX)),
        "DnsTxt": found(RecordKind.OWNERSHIP),
        "DnsSpf": found(RecordKind.SPF),
        "DnsDmarc": found(RecordKind.DMARC),
        "DnsMx": found(RecordKind.MX),
        "CreateTime": dm_time(domain.created_at, caller.key.account.time_zone),
    }


@action("CheckDomain")
def check_domain(caller: Caller, p: Params) -> dict:
    """Look the records up now (as the console's "Check now" does, but answering when done)."""
    domain = domain_service.domain_check(domain=_domain(caller, p))
    return {"DomainStatus": 0 if domain.status == DomainStatus.VERIFIED else 1}


@action("DeleteDomain")
def delete_domain(caller: Caller, p: Params) -> dict:
    domain = _domain(caller, p)
    with refused("DomainId", "InvalidDomain.InUse"):
        domain_service.domain_delete(domain=domain, actor=actor(caller))
    return {}


# -- sender addresses


def _sender(caller: Caller, p: Params) -> SenderAddress:
    queryset = SenderAddress.objects.alive().own().filter(account=caller.key.account).select_related("domain")
    return by_api_id(queryset, p, "MailAddressId", "InvalidMailAddress.NotFound", "sender address")


def _send_counts(account, senders: list[SenderAddress]) -> dict[int, dict[str, int]]:
    """Requests (envelopes) and messages today and this month, per sender address."""
    today = account.today()
    zone = ZoneInfo(account.time_zone)
    day_start = datetime.combine(today, time.min, tzinfo=zone)
    month_start = datetime.combine(today.replace(day=1), time.min, tzinfo=zone)
    ids = [s.pk for s in senders]
    counts = {pk: {"DailyReqCount": 0, "MonthReqCount": 0, "DailyCount": 0, "MonthCount": 0} for pk in ids}
    for model, sender_field, prefix in (
        (Envelope, "sender_id", "ReqCount"),
        (Message, "envelope__sender_id", "Count"),
    ):
        rows = (
            model.objects.filter(**{f"{sender_field}__in": ids, "created_at__gte": month_start})
            .values(sender_field)
            .annotate(month=Count("pk"), day=Count("pk", filter=Q(created_at__gte=day_start)))
        )
        for row in rows:
            counts[row[sender_field]].update({f"Month{prefix}": row["month"], f"Daily{prefix}": row["day"]})
    return counts


@action("QueryMailAddressByParam")
def query_mail_address_by_param(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    queryset = (
        SenderAddress.objects.alive()
        .own()  # the sandbox's address sends through the API, but DirectMail lists no sandbox
        .filter(account=account)
        .select_related("domain")
        .order_by("-created_at", "-pk")
    )
    keyword = p.text("KeyWord", max_length=254).strip().lower()
    if keyword:
        queryset = queryset.filter(address__contains=keyword)
    send_type = p.text("Sendtype").strip().lower()
    if send_type:
        if send_type not in SendType.values:
            raise ApiError("InvalidParameter", "Sendtype must be batch or trigger.")
        queryset = queryset.filter(send_type=send_type)
    senders, paging = p.page(queryset)
    counts = _send_counts(account, senders)
    items = [
        {
            "MailAddressId": str(s.api_id),
            "AccountName": s.address,
            "AccountStatus": _ok(s.domain.can_send),
            "DomainStatus": _ok(s.domain.status == DomainStatus.VERIFIED),
            "Sendtype": s.send_type,
            "ReplyAddress": s.reply_to,
            "ReplyStatus": _ok(s.reply_to_verified),
            "CreateTime": dm_time(s.created_at, account.time_zone),
            **{k: str(v) for k, v in counts[s.pk].items()},
        }
        for s in senders
    ]
    return {**paging, "data": {"mailAddress": items}}


@action("CreateMailAddress")
def create_mail_address(caller: Caller, p: Params) -> dict:
    account = caller.key.account
    address = p.text("AccountName", required=True, max_length=254).strip()
    send_type = p.text("Sendtype", required=True).strip().lower()
    if p.text("AddressType").strip() not in ("", "0", "1"):
        # DirectMail's 0 (random account) and 1 (sender address) both give an address that sends as itself
        # here: the envelope sender is always our signed return path at the domain.
        raise ApiError("InvalidParameter", "AddressType must be 0 or 1.")
    reply_to = p.text("ReplyAddress", max_length=254)
    local_part, at, domain_name = address.rpartition("@")
    if not at or not local_part:
        raise ApiError("InvalidMailAddress.Malformed", f"AccountName: {address} is not an address.")
    with refused("AccountName", "InvalidMailAddressDomain.Malformed"):
        domain_name = domain_service.normalize_domain_name(domain_name)
    domain = Domain.objects.alive().own().filter(account=account, name=domain_name).first()
    if domain is None:
        raise ApiError(
            "InvalidMailAddressDomain.Malformed",
            f"AccountName: {domain_name} is not a domain of this account. Add it with CreateDomain first.",
        )
    if send_type not in SendType.values:
        raise ApiError("InvalidMailAddressSendType.Malformed", "Sendtype must be batch or trigger.")
    with refused("AccountName"):
        sender = sender_service.sender_address_create(
            account=account,
            domain=domain,
            local_part=local_part,
            send_type=send_type,
            reply_to=reply_to,
            actor=actor(caller),
        )
    return {"MailAddressId": str(sender.api_id)}


@action("ModifyMailAddress")
def modify_mail_address(caller: Caller, p: Params) -> dict:
    """Set the SMTP password and/or the reply-to address (a new one is mailed a verification link)."""
    sender = _sender(caller, p)
    password = p.text("Password", max_length=128)
    if p.has("Password") and not password:
        raise ApiError("InvalidParameter", "Password: give the new SMTP password.")
    if p.has("ReplyAddress"):
        with refused("ReplyAddress", "InvalidReplyAddress.Malformed"):
            sender_service.sender_address_set_reply_to(
                sender=sender, reply_to=p.text("ReplyAddress", max_length=254), actor=actor(caller)
            )
    if password:
        with refused("Password", "InvalidPassword.Malformed"):
            sender_service.sender_address_set_smtp_password(
                sender=sender, password=password, actor=actor(caller)
            )
    return {}


@action("CheckReplyToMailAddress")
def check_reply_to_mail_address(caller: Caller, p: Params) -> dict:
    """Mail the verification link of the sender's reply-to address again, in Lang (zh-cn, en, ...).
    Region names DirectMail's regions; this server is one, so any is the same."""
    sender = _sender(caller, p)
    p.text("Region", max_length=32)
    if not sender.reply_to:
        raise ApiError("InvalidReplyAddress.NotFound", "MailAddressId: this sender has no reply-to address.")
    if sender.reply_to_verified_at is not None:
        raise ApiError("InvalidReplyAddress.Verified", "MailAddressId: its reply-to address is verified.")
    language = _LANGUAGES.get(p.text("Lang", max_length=16).strip().lower().replace("_", "-"))
    if p.text("Lang").strip() and language is None:
        raise ApiError("InvalidParameter", f"Lang must be one of {', '.join(sorted(_LANGUAGES))}.")
    sender_service.reply_to_send_verification(sender=sender, language=language)
    return {}


_LANGUAGES = {"zh-cn": "zh-hans", "zh": "zh-hans", "zh-hans": "zh-hans", "en": "en", "en-us": "en"}


@action("ApproveReplyMailAddress")
def approve_reply_mail_address(caller: Caller, p: Params) -> dict:
    """Confirm a reply-to address with the Ticket of its verification link (the part after /verify/), for
    one of this account's senders."""
    ticket = p.text("Ticket", required=True, max_length=1000).strip()
    with refused("Ticket", "InvalidTicket"):
        sender_service.reply_to_verify(token=ticket, account=caller.key.account)
    return {}


@action("DeleteMailAddress")
def delete_mail_address(caller: Caller, p: Params) -> dict:
    sender = _sender(caller, p)
    with refused("MailAddressId", "InvalidMailAddress.DeleteLimit"):
        sender_service.sender_address_delete(sender=sender, actor=actor(caller))
    return {}


# -- tags


def _tag(caller: Caller, p: Params):
    return by_api_id(caller.key.account.tags.all(), p, "TagId", "InvalidTag.NotFound", "tag")


def _tag_item(tag) -> dict:
    return {"TagId": str(tag.api_id), "TagName": tag.name, "TagDescription": tag.description}


@action("QueryTagByParam")
def query_tag_by_param(caller: Caller, p: Params) -> dict:
    queryset = caller.key.account.tags.order_by("name")
    keyword = p.text("KeyWord", max_length=128).strip()
    if keyword:
        queryset = queryset.filter(name__icontains=keyword)
    tags, paging = p.page(queryset)
    return {**paging, "data": {"tag": [_tag_item(tag) for tag in tags]}}


@action("CreateTag")
def create_tag(caller: Caller, p: Params) -> dict:
    name = p.text("TagName", required=True, max_length=128)
    description = p.text("TagDescription", max_length=255)
    with refused("TagName", "InvalidTagName.Malformed"):
        tag = tag_service.tag_create(
            account=caller.key.account, name=name, description=description, actor=actor(caller)
        )
    return {"TagId": str(tag.api_id)}


@action("ModifyTag")
def modify_tag(caller: Caller, p: Params) -> dict:
    tag = _tag(caller, p)
    name = p.text("TagName", required=True, max_length=128)
    description = p.text("TagDescription", max_length=255) if p.has("TagDescription") else tag.description
    with refused("TagName", "InvalidTagName.Malformed"):
        tag_service.tag_update(tag=tag, name=name, description=description, actor=actor(caller))
    return {}


@action("DeleteTag")
def delete_tag(caller: Caller, p: Params) -> dict:
    tag_service.tag_delete(tag=_tag(caller, p), actor=actor(caller))
    return {}
