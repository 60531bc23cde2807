from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SendingConfig(AppConfig):
    """Domains, sender addresses, tags, recipient lists, messages, the delivery engine, the API and SMTP."""

    name = "sending"
    verbose_name = _("Sending")

    def ready(self) -> None:
        from django.core import checks

        from accounts.audit import register_action_labels, register_detail_values
        from accounts.limits import register_usage
        from accounts.onboarding import register_step_check
        from accounts.services import register_account_setup
        from directmail.metrics import register_gauges
        from sending import events, feedback, provider_limits, validation, warmup
        from sending.delivery.worker import queue_gauges, shaping_gauges
        from sending.models import DomainStatus, SendType
        from sending.services.messages import quota_used
        from sending.services.sandbox import sandbox_create
        from sending.services.senders import deletions_this_month

        register_account_setup(sandbox_create)
        events.listen(warmup.on_complaints, ["complained"])
        events.listen(feedback.on_failures, feedback.FAILURE_KINDS)
        register_gauges(queue_gauges)
        register_gauges(shaping_gauges)
        checks.register(provider_limits.check_settings, checks.Tags.compatibility)
        register_detail_values("type", dict(SendType.choices))
        register_usage("max_domains", lambda account: account.domains.alive().own().count())
        register_usage("max_sender_addresses", lambda account: account.sender_addresses.alive().own().count())
        register_usage("sender_address_deletions", deletions_this_month)
        register_usage("max_tags", lambda account: account.tags.count())
        register_usage("max_recipient_lists", lambda account: account.recipient_lists.count())
        register_usage("daily_quota", lambda account: quota_used(account, "day"))
        register_usage("monthly_quota", lambda account: quota_used(account, "month"))
        register_usage("validation_daily_quota", lambda account: validation.usage(account)["day"][0])
        register_usage("validation_monthly_quota", lambda account: validation.usage(account)["month"][0])
        # The free allowance is the first messages of each day.
        register_usage(
            "free_daily_sends",
            lambda account: min(quota_used(account, "day"), account.limit("free_daily_sends")),
        )
        register_step_check(
            "domain", lambda a: a.domains.alive().own().filter(status=DomainStatus.VERIFIED).exists()
        )
        register_step_check("sender", lambda a: a.sender_addresses.alive().own().exists())
        register_step_check("message", lambda a: a.messages.filter(state="delivered").exists())
        register_action_labels(
            {
                "domain.create": _("Added a domain"),
                "validation.start": _("Started an address validation"),
                "validation.delete": _("Deleted an address validation"),
                "domain.delete": _("Deleted a domain"),
                "domain.status": _("Domain status changed"),
                "domain.dkim_rotate": _("Started a DKIM key rotation"),
                "domain.dkim_activate": _("New DKIM key started signing"),
                "domain.dkim_retire": _("Retired a DKIM key"),
                "sender.create": _("Created a sender address"),
                "sender.delete": _("Deleted a sender address"),
                "sender.reply_to": _("Changed a reply-to address"),
                "sender.reply_to_verified": _("Reply-to address confirmed"),
                "sender.smtp_password": _("Set an SMTP password"),
                "tag.create": _("Created a tag"),
                "tag.update": _("Changed a tag"),
                "tag.delete": _("Deleted a tag"),
                "ip_pool.create": _("Created an IP pool"),
                "ip_pool.update": _("Changed an IP pool"),
                "queue.suspend": _("Held part of the delivery queue"),
                "queue.resume": _("Ended a hold on the delivery queue"),
                "queue.bounce": _("Bounced queued mail"),
                "queue.retry": _("Retried deferred mail now"),
                "ip_pool.default": _("Chose the default IP pool"),
                "ip_pool.delete": _("Deleted an IP pool"),
                "config_set.create": _("Created a configuration set"),
                "config_set.update": _("Changed a configuration set"),
                "config_set.delete": _("Deleted a configuration set"),
                "config_set.bind": _("Bound a sender address to a configuration set"),
                "egress.warmup": _("Changed the warm-up of a dedicated IP"),
                "egress.auto_renewal": _("Changed the auto-renewal of dedicated IPs"),
                "recipient_list.create": _("Created a recipient list"),
                "recipient_list.update": _("Changed a recipient list"),
                "recipient_list.delete": _("Deleted a recipient list"),
                "recipient_list.import": _("Imported addresses into a list"),
                "recipient.add": _("Added addresses to a list"),
                "recipient.update": _("Changed an address in a list"),
                "recipient.delete": _("Removed addresses from a list"),
                "batch.create": _("Created a batch send"),
                "batch.update": _("Changed a batch send"),
                "batch.confirm": _("Confirmed a batch send"),
                "batch.delete": _("Deleted a batch send draft"),
                "batch.pause": _("Paused a batch send"),
                "batch.resume": _("Resumed a batch send"),
                "batch.cancel": _("Cancelled a batch send"),
                "suppression.add": _("Suppressed an address"),
                "suppression.remove": _("Removed an address from the suppression list"),
                "suppression.import": _("Imported suppressed addresses"),
            }
        )
