from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesAppConfig(AppConfig):
    """Email and SMS templates, their versions, the review workflow, rendering and sanitizing."""

    name = "templates_app"
    verbose_name = _("Templates")
