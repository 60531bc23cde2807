"""Filters shared by the console's lists."""

from datetime import date, datetime, time

from django.db.models import QuerySet
from django.utils import timezone


def between_days(queryset: QuerySet, field: str, since: date | None, until: date | None) -> QuerySet:
    """Rows whose `field` falls on or between two days of the current (the account's) time zone."""
    zone = timezone.get_current_timezone()
    if since:
        queryset = queryset.filter(**{f"{field}__gte": datetime.combine(since, time.min, tzinfo=zone)})
    if until:
        queryset = queryset.filter(**{f"{field}__lte": datetime.combine(until, time.max, tzinfo=zone)})
    return queryset
