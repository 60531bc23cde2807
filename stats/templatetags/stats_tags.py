"""`{% overview_numbers current_account %}`: today's numbers and the last 7 days, for the Overview page
(the accounts app composes it in its template without importing stats); the reputation panel; the webhook
signature check receivers run."""

from datetime import timedelta

from django import template

from stats import dashboard, reputation
from stats.webhooks.signing import VERIFY_SNIPPET

register = template.Library()


@register.inclusion_tag("stats/includes/overview.html")
def overview_numbers(account) -> dict:
    today = account.today()
    week = dashboard.report(account, today - timedelta(days=6), today)
    return {
        "today": week.days[-1],
        "week": week,
        "rates": {k: None if v is None else round(100 * v, 1) for k, v in week.rates.items()},
        "account": account,
    }


@register.inclusion_tag("stats/includes/reputation.html")
def reputation_panel(account) -> dict:
    """The daily quota's level, the last review's numbers and the next review's date (account settings)."""
    last = account.reputation_reviews.first()
    floor, ceiling = reputation.bounds(account)
    return {
        "quota": account.limit("daily_quota"),
        "levels": [level for level in reputation.levels() if floor <= level <= ceiling],
        "last": last,
        "next_review": reputation.next_review(account),
    }


@register.simple_tag
def webhook_verify_snippet() -> str:
    """The receiver's signature check, as the docs show it (code, so not translated)."""
    return VERIFY_SNIPPET
