from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatsConfig(AppConfig):
    """Events, per-day counters, dashboards and exports, webhooks."""

    name = "stats"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        from accounts.audit import register_action_labels
        from directmail.metrics import register_gauges
        from sending import events, validation_graylist
        from stats import api, counters  # noqa: F401 - api registers the statistics actions
        from stats.webhooks import delivery
        from stats.webhooks import events as webhook_events

        register_gauges(delivery.waiting_gauges)
        events.listen(counters.on_events)
        # Every kind is offered to webhooks; those without a CloudEvents type are let go there.
        events.listen(webhook_events.on_events)
        validation_graylist.listen(webhook_events.on_graylist_result)

        register_action_labels(
            {
                "account.quota_review": _("Daily quota reviewed"),
                "webhook.create": _("Added a webhook endpoint"),
                "webhook.update": _("Changed a webhook endpoint"),
                "webhook.enable": _("Enabled a webhook endpoint"),
                "webhook.disable": _("Disabled a webhook endpoint"),
                "webhook.delete": _("Deleted a webhook endpoint"),
                "webhook.new_secret": _("Replaced a webhook signing secret"),
                "webhook.test": _("Sent a webhook test event"),
                "webhook.replay": _("Replayed webhook events"),
            }
        )
