from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SendingConfig(AppConfig):
    """Domains, sender addresses, tags, recipient lists, messages, the delivery engine, the API and SMTP."""

    name = "sending"
    verbose_name = _("Sending")
