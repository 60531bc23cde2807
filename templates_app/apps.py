from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesAppConfig(AppConfig):
    """Email and SMS templates, their versions, the review workflow, rendering and sanitizing."""

    name = "templates_app"
    verbose_name = _("Templates")

    def ready(self) -> None:
        from accounts.audit import register_action_labels, register_detail_values
        from accounts.limits import register_usage
        from templates_app.models import TemplateKind

        register_usage("max_templates", lambda account: account.templates.count())
        register_detail_values("kind", dict(TemplateKind.choices))
        register_action_labels(
            {
                "template.create": _("Created a template"),
                "template.rename": _("Renamed a template"),
                "template.edit": _("Edited a template"),
                "template.submit": _("Submitted a template for review"),
                "template.withdraw": _("Withdrew a template from review"),
                "template.approve": _("Approved a template"),
                "template.reject": _("Rejected a template"),
                "template.delete": _("Deleted a template"),
            }
        )
