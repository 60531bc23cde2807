"""The django-q2 cluster: its configuration check and the schedules every app declares.

Each app may have a `schedules.py` with `SCHEDULES = [ScheduleSpec(...), ...]`. `sync_schedules()` makes the
django-q2 Schedule table match them (by name, idempotently); it runs after every `migrate` and as
`manage.py sync_schedules`. Schedules the code no longer declares are removed; ones made by hand (names
without our prefix) are left alone.
"""

from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

SCHEDULE_PREFIX = "directmail."


@dataclass(frozen=True)
class ScheduleSpec:
    """A recurring task: `func` (a dotted path) runs every `minutes`."""

    name: str
    func: str
    minutes: int

    @property
    def full_name(self) -> str:
        return SCHEDULE_PREFIX + self.name


def declared_schedules() -> list[ScheduleSpec]:
    """Every ScheduleSpec in the installed apps' `schedules` modules."""
    specs: list[ScheduleSpec] = []
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "schedules"):
            specs.extend(getattr(import_module(f"{app.name}.schedules"), "SCHEDULES", []))
    return specs


def sync_schedules() -> dict[str, int]:
    """Create, update and remove our rows in django-q2's Schedule table; returns the counts."""
    from django_q.models import Schedule

    specs = declared_schedules()
    counts = {"created": 0, "updated": 0, "removed": 0}
    with transaction.atomic():
        for spec in specs:
            wanted = {"func": spec.func, "schedule_type": Schedule.MINUTES, "minutes": spec.minutes}
            row = Schedule.objects.filter(name=spec.full_name).first()
            if row is None:
                # The first run is one interval away: a daily check on a fresh install has nothing to act on
                # (django-q2 would otherwise run every schedule as soon as the cluster starts).
                first = timezone.now() + timedelta(minutes=spec.minutes)
                Schedule.objects.create(name=spec.full_name, repeats=-1, next_run=first, **wanted)
                counts["created"] += 1
            elif any(getattr(row, field) != value for field, value in wanted.items()):
                for field, value in wanted.items():
                    setattr(row, field, value)
                row.save()
                counts["updated"] += 1
        stale = Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).exclude(
            name__in=[spec.full_name for spec in specs]
        )
        counts["removed"], _ = stale.delete()
    return counts


def after_migrate(using: str = "default", **kwargs) -> None:
    """Keep the cache table and the schedules in step with the code after every migrate."""
    if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
        call_command("createcachetable", database=using, verbosity=0)
    sync_schedules()


def check_cluster_config(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a queue whose `retry` does not exceed `timeout`: a slow task would run twice at once."""
    conf = settings.Q_CLUSTER
    timeout, retry = conf.get("timeout"), conf.get("retry")
    errors: list[checks.CheckMessage] = []
    if not timeout or not retry or retry <= timeout:
        errors.append(
            checks.Error(
                f"Q_CLUSTER retry ({retry}) must be greater than timeout ({timeout}).",
                hint="Set Q_RETRY above Q_TIMEOUT, e.g. Q_TIMEOUT=300 and Q_RETRY=360.",
                id="directmail.E001",
            )
        )
    if not conf.get("max_attempts"):
        errors.append(
            checks.Error(
                "Q_CLUSTER max_attempts must be set: a task that kills its worker would be retried forever.",
                hint="Set Q_MAX_ATTEMPTS to a small number such as 5.",
                id="directmail.E002",
            )
        )
    if conf.get("catch_up", True):
        errors.append(
            checks.Error(
                "Q_CLUSTER catch_up must be False: missed schedules would replay once per missed slot.",
                id="directmail.E003",
            )
        )
    return errors
