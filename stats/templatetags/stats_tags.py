"""`{% overview_numbers current_account %}`: today's numbers and the last 7 days, for the Overview page
(the accounts app composes it in its template without importing stats)."""

from datetime import timedelta

from django import template

from stats import dashboard

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
