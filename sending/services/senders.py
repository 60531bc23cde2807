"""Sender addresses: create on a verified domain, reply-to with verification, SMTP password, soft delete."""

import re
import secrets
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts.audit import Actor, audit_record
from accounts.errors import LimitReached, ServiceError
from accounts.limits import enforce_limit, lock_account
from accounts.mailing import mail_people
from accounts.models import Account
from sending.models import Domain, DomainStatus, SenderAddress, SendType

# RFC 5322 dot-atom, which is what mail systems accept unquoted.
LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
REPLY_TO_SALT = "sending.reply_to"
MIN_SMTP_PASSWORD = 10


def _validate_reply_to(reply_to: str) -> str:
    reply_to = reply_to.strip()
    if reply_to:
        try:
            validate_email(reply_to)
        except ValidationError as exc:
            raise ServiceError(_("%(value)s is not a valid reply-to address.") % {"value": reply_to}) from exc
    return reply_to


@transaction.atomic
def sender_address_create(
    *, account: Account, domain: Domain, local_part: str, send_type: str, reply_to: str = "", actor: Actor
) -> SenderAddress:
    """`local_part@domain` for trigger or batch mail. The domain must be this account's and verified."""
    local_part = local_part.strip().lower()
    if not LOCAL_PART.match(local_part) or len(local_part) > 64:
        raise ServiceError(_("%(value)s is not a valid name before the @.") % {"value": local_part})
    if send_type not in SendType.values:
        raise ServiceError(_("Choose trigger or batch."))
    if domain.account_id != account.pk or domain.deleted_at is not None:
        raise ServiceError(_("Choose one of this account's domains."))
    if domain.status != DomainStatus.VERIFIED:
        raise ServiceError(_("%(domain)s is not verified yet. Verify it first.") % {"domain": domain.name})
    reply_to = _validate_reply_to(reply_to)
    address = f"{local_part}@{domain.name}"
    account = lock_account(account)
    if SenderAddress.objects.alive().filter(address=address).exists():
        raise ServiceError(_("%(address)s already exists.") % {"address": address})
    enforce_limit(account, "max_sender_addresses", account.sender_addresses.alive().own().count())
    sender = SenderAddress.objects.create(
        account=account, domain=domain, address=address, send_type=send_type, reply_to=reply_to
    )
    audit_record(
        actor=actor, action="sender.create", account=account, target=sender, details={"type": send_type}
    )
    if reply_to:
        language = translation.get_language()
        transaction.on_commit(
            lambda: async_task("sending.tasks.send_reply_to_verification", sender.pk, language)
        )
    return sender


@transaction.atomic
def sender_address_set_reply_to(*, sender: SenderAddress, reply_to: str, actor: Actor) -> SenderAddress:
    """Change the reply-to address; a new one is used only after its owner clicks the mailed link."""
    reply_to = _validate_reply_to(reply_to)
    if reply_to == sender.reply_to:
        return sender
    old = sender.reply_to
    sender.reply_to = reply_to
    sender.reply_to_verified_at = None
    sender.save(update_fields=["reply_to", "reply_to_verified_at"])
    audit_record(
        actor=actor,
        action="sender.reply_to",
        account=sender.account,
        target=sender,
        details={"reply_to": [old, reply_to]},
    )
    if reply_to:
        transaction.on_commit(lambda: async_task("sending.tasks.send_reply_to_verification", sender.pk))
    return sender


def reply_to_token(sender: SenderAddress) -> str:
    return signing.dumps([sender.public_id, sender.reply_to], salt=REPLY_TO_SALT)


def reply_to_send_verification(*, sender: SenderAddress, language: str | None = None) -> None:
    """Mail the verification link to the reply-to address (in the language of who set it)."""
    if not sender.reply_to or sender.reply_to_verified_at:
        return
    url = settings.PUBLIC_BASE_URL + reverse("sending_reply_to_verify", args=[reply_to_token(sender)])
    mail_people("reply_to_verify", {"sender": sender, "url": url}, [sender.reply_to], language=language)


@transaction.atomic
def reply_to_verify(*, token: str, account: Account | None = None) -> SenderAddress:
    """Confirm a reply-to address from its link (valid 7 days, for the address it was sent to only);
    with `account`, only for a sender of that account."""
    try:
        public_id, reply_to = signing.loads(token, salt=REPLY_TO_SALT, max_age=7 * 24 * 3600)
    except (signing.BadSignature, TypeError, ValueError) as exc:
        raise ServiceError(_("This link is invalid or has expired.")) from exc
    senders = SenderAddress.objects.alive().select_for_update().filter(public_id=public_id)
    if account is not None:
        senders = senders.filter(account=account)
    sender = senders.first()
    if sender is None or sender.reply_to != reply_to:
        raise ServiceError(_("This link is for a reply-to address that has since changed."))
    if sender.reply_to_verified_at is None:
        sender.reply_to_verified_at = timezone.now()
        sender.save(update_fields=["reply_to_verified_at"])
        audit_record(
            actor=Actor(name=reply_to),
            action="sender.reply_to_verified",
            account=sender.account,
            target=sender,
        )
    return sender


@transaction.atomic
def sender_address_set_smtp_password(*, sender: SenderAddress, actor: Actor, password: str = "") -> str:
    """Set the SMTP password (or generate one when empty); returns it to show once. Stored hashed."""
    if password and len(password) < MIN_SMTP_PASSWORD:
        raise ServiceError(
            _("An SMTP password needs at least %(count)s characters.") % {"count": MIN_SMTP_PASSWORD}
        )
    password = password or secrets.token_urlsafe(18)
    sender.smtp_password = make_password(password)
    sender.smtp_password_set_at = timezone.now()
    sender.save(update_fields=["smtp_password", "smtp_password_set_at"])
    audit_record(actor=actor, action="sender.smtp_password", account=sender.account, target=sender)
    return password


def _strong_domain_password(password: str) -> bool:
    """DirectMail's rule: 10 to 20 characters with at least two digits, two upper- and two lower-case
    letters, and neither the digits nor the letters one character repeated."""
    digits = [c for c in password if c.isdigit()]
    letters = [c for c in password if c.isalpha()]
    return (
        10 <= len(password) <= 20
        and password.isascii()
        and len(digits) >= 2
        and sum(c.isupper() for c in letters) >= 2
        and sum(c.islower() for c in letters) >= 2
        and len(set(digits)) > 1
        and len(set(letters)) > 1
    )


@transaction.atomic
def domain_set_smtp_password(*, domain: Domain, password: str, actor: Actor) -> None:
    """The domain-wide SMTP password (ModifyPWByDomain): any sender address of the domain logs in with it."""
    if not _strong_domain_password(password):
        raise ServiceError(
            _("A domain password has 10 to 20 characters with at least 2 digits, 2 upper-case and 2 "
              "lower-case letters, and not one character repeated.")
        )  # fmt: skip
    if domain.smtp_password and check_password(password, domain.smtp_password):
        raise ServiceError(_("The new password must differ from the last one."))
    domain.smtp_password = make_password(password)
    domain.smtp_password_set_at = timezone.now()
    domain.save(update_fields=["smtp_password", "smtp_password_set_at"])
    audit_record(actor=actor, action="domain.smtp_password", account=domain.account, target=domain)


def deletions_this_month(account: Account) -> int:
    """Sender addresses deleted since the first of this month, in the account's time zone."""
    month_start = datetime.combine(
        account.today().replace(day=1), time.min, tzinfo=ZoneInfo(account.time_zone)
    )
    return account.sender_addresses.filter(deleted_at__gte=month_start).count()


@transaction.atomic
def sender_address_delete(*, sender: SenderAddress, actor: Actor) -> None:
    """Soft-delete: the address stops sending; deletions per calendar month are limited."""
    account = lock_account(sender.account)
    used = deletions_this_month(account)
    try:
        enforce_limit(account, "sender_address_deletions", used)
    except LimitReached as exc:
        raise ServiceError(
            _("This account already deleted %(used)s of %(limit)s sender addresses allowed this month.")
            % {"used": exc.used, "limit": exc.limit}
        ) from exc
    sender.deleted_at = timezone.now()
    sender.smtp_password = ""
    sender.save(update_fields=["deleted_at", "smtp_password"])
    audit_record(actor=actor, action="sender.delete", account=account, target=sender)
