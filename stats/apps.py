from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatsConfig(AppConfig):
    """Events, per-day counters, tracking endpoints, dashboards and exports."""

    name = "stats"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        from accounts.audit import register_action_labels

        register_action_labels({"account.quota_review": _("Daily quota reviewed")})
