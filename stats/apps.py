from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatsConfig(AppConfig):
    """Events, per-day counters, tracking endpoints, dashboards and exports."""

    name = "stats"
    verbose_name = _("Statistics")
