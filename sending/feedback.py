"""What failures mean beyond their message (a sending.events listener, inside the transaction that records
them), by their bounce category (sending.bounce_categories):

- a mailbox found full again and again is suppressed like a bad one (BOUNCE_MAILBOX_FULL_SUPPRESS_AFTER
  final failures of the account's mail to it within 30 days), with reason "mailbox_full";
- refusals for reputation, blocklist or policy reasons never suppress the recipient: they are counted per
  account, provider and day (BounceWarning), and once BOUNCE_WARNING_AFTER of them came from one provider
  the account is warned (the Overview and Statistics pages; owners and admins by mail, once).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone

from accounts.mailing import mail_people
from accounts.roles import Role
from sending import providers
from sending.bounce_categories import SENDER_CAUSED, Category
from sending.esp import esp_of
from sending.events import Event
from sending.models import BounceWarning, Message, MessageState, Suppression, SuppressionReason

FAILURE_KINDS = ("deferred", "failed", "invalid", "bounced", "hard_bounced")
FINAL_FAILURES = ("failed", "bounced")
MAILBOX_FULL_WINDOW = timedelta(days=30)


def provider_of(domain: str) -> str:
    """The provider to warn about: the one found from the domain's MX, else the domain's ESP by name."""
    return providers.known(domain) or esp_of(domain)


def on_failures(events: list[Event], at) -> None:
    for event in events:
        category = event.detail.get("category", "")
        if not category or event.detail.get("held"):
            continue
        if category == Category.MAILBOX_FULL and event.kind in FINAL_FAILURES:
            _mailbox_full(event.message, at)
        if category in SENDER_CAUSED and (event.detail.get("code") or event.detail.get("dsn")):
            _count_refusal(event, category, at)


def _mailbox_full(message: Message, at) -> None:
    repeats = settings.BOUNCE_MAILBOX_FULL_SUPPRESS_AFTER
    if not repeats:
        return
    full = Message.objects.filter(
        account_id=message.account_id, rcpt=message.rcpt, state=MessageState.FAILED,
        bounce_category=Category.MAILBOX_FULL, finished_at__gte=at - MAILBOX_FULL_WINDOW,
    ).count()  # fmt: skip
    if full >= repeats:
        entry = Suppression(
            account_id=message.account_id, address=message.rcpt.lower(), scope="",
            reason=SuppressionReason.MAILBOX_FULL, message_id=message.pk, created_at=at,
            detail=f"mailbox full {full} times in {MAILBOX_FULL_WINDOW.days} days",
        )  # fmt: skip
        Suppression.objects.bulk_create([entry], ignore_conflicts=True)  # an entry there is kept


def _count_refusal(event: Event, category: str, at) -> None:
    message = event.message
    provider = provider_of(message.rcpt_domain)
    reply = str(event.detail.get("text", ""))[:500]
    keys = {"account_id": message.account_id, "day": at.date(), "provider": provider, "category": category}
    BounceWarning.objects.bulk_create([BounceWarning(**keys, first_at=at, last_at=at)], ignore_conflicts=True)
    BounceWarning.objects.filter(**keys).update(
        count=F("count") + 1, last_reply=reply, last_at=Greatest(F("last_at"), at)
    )
    threshold = settings.BOUNCE_WARNING_AFTER
    if threshold and BounceWarning.objects.filter(**keys, count__gte=threshold, notified_at=None).update(
        notified_at=at
    ):
        warning = BounceWarning.objects.select_related("account").get(**keys)
        transaction.on_commit(lambda: _notify(warning))


def _notify(warning: BounceWarning) -> None:
    account = warning.account
    recipients = list(
        account.memberships.filter(role__in=[Role.OWNER, Role.ADMIN]).values_list("user__email", flat=True)
    )
    if recipients:
        url = settings.PUBLIC_BASE_URL + reverse("stats:dashboard", args=[account.public_id])
        context = {"warning": warning, "provider": providers.label_of(warning.provider), "url": url,
                   "category": Category(warning.category).label}  # fmt: skip
        mail_people("bounce_warning", context, recipients, account=account)


def warnings(account, days: int = 7) -> list[BounceWarning]:
    """The account's warnings of the last `days` days (those that reached the threshold), newest first."""
    since = timezone.now().date() - timedelta(days=days - 1)
    threshold = max(1, settings.BOUNCE_WARNING_AFTER)
    return list(
        BounceWarning.objects.filter(account=account, day__gte=since, count__gte=threshold).order_by(
            "-day", "-count"
        )
    )
