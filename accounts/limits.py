"""Account limits as members see them: "used / limit" per limit.

The counts live in other apps (domains in `sending`, templates in `templates_app`), and `accounts` imports
none of them: an app registers a counter for its limit in its AppConfig.ready() with `register_usage`.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from accounts.errors import LimitReached
from accounts.models import Account
from directmail.typing import Label


@dataclass(frozen=True)
class LimitRow:
    key: str
    label: Label
    used: int | None  # None: nothing in this install counts it yet
    limit: int

    @property
    def percent(self) -> int:
        if self.used is None or not self.limit:
            return 0
        return min(100, round(100 * self.used / self.limit))


# In the order the settings page shows them.
LIMIT_LABELS = {
    "max_domains": _("Sending domains"),
    "max_sender_addresses": _("Sender addresses"),
    "sender_address_deletions": _("Sender address deletions this month"),
    "max_tags": _("Tags"),
    "max_recipient_lists": _("Recipient lists"),
    "max_recipients_per_list": _("Addresses per recipient list"),
    "max_templates": _("Templates"),
    "daily_quota": _("Daily quota"),
    "monthly_quota": _("Monthly quota"),
    "free_daily_sends": _("Free sends today"),
    "validation_daily_quota": _("Address validations today"),
    "validation_monthly_quota": _("Address validations this month"),
}

_usage_counters: dict[str, Callable[[Account], int]] = {}


def register_usage(key: str, counter: Callable[[Account], int]) -> None:
    """Tell the limits page how to count what an account uses against `key`."""
    if key not in LIMIT_LABELS:
        raise KeyError(f"unknown limit {key!r}")
    _usage_counters[key] = counter


def account_limits(account: Account) -> list[LimitRow]:
    rows = []
    for key, label in LIMIT_LABELS.items():
        counter = _usage_counters.get(key)
        rows.append(LimitRow(key, label, counter(account) if counter else None, account.limit(key)))
    return rows


def enforce_limit(account: Account, key: str, used: int) -> None:
    """Refuse one more of `key` when `used` already reaches the account's limit.

    Call it inside the creating transaction after locking the account row (`lock_account`), so two
    concurrent creations cannot both pass.
    """
    limit = account.limit(key)
    if used >= limit:
        raise LimitReached(what=str(LIMIT_LABELS[key]).lower(), used=used, limit=limit)


def lock_account(account: Account) -> Account:
    """Lock the account row for the rest of the transaction (serializes limit checks)."""
    return Account.objects.select_for_update().get(pk=account.pk)
