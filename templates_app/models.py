"""Templates (email or SMS) and their versions, which go draft -> submitted -> approved | rejected.

A template's `approved_version` is what sending uses; editing an approved template makes a new draft
version while the approved one stays in use. Only templates_app.services changes them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.ids import new_api_id, new_public_id
from accounts.models import Account

MAX_NAME_LENGTH = 30  # as DirectMail's InvalidTemplateName.Malformed says


class TemplateKind(models.TextChoices):
    EMAIL = "email", pgettext_lazy("template kind", "Email")
    SMS = "sms", _("SMS")


class Template(models.Model):
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    api_id = models.BigIntegerField(
        unique=True, default=new_api_id, editable=False
    )  # DirectMail's TemplateId
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(_("name"), max_length=MAX_NAME_LENGTH)
    kind = models.CharField(_("kind"), max_length=8, choices=TemplateKind.choices, default=TemplateKind.EMAIL)
    description = models.CharField(_("description"), max_length=255, blank=True)
    approved_version = models.ForeignKey(
        "TemplateVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Sample values of the template's variables ({"UserName": "Bob"}), for the preview and test sends.
    sample_data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="template_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> "TemplateVersion":
        """The newest version (a template is created with its first one)."""
        return self.versions.order_by("-number")[0]


class BodyFormat(models.TextChoices):
    HTML = "html", _("HTML")
    MJML = "mjml", _("MJML")


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Replaced by a newer approved version")


class TemplateVersion(models.Model):
    """One version of a template's content: subject and bodies (email) or a text (SMS), sanitized on save."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    subject = models.CharField(_("subject"), max_length=256, blank=True)
    # The sender name recipients see (DirectMail's TemplateNickName); empty: the call's or none.
    from_alias = models.CharField(_("sender name"), max_length=30, blank=True, default="", db_default="")
    # What the author wrote (HTML or MJML), kept for the editor; `html_body` is what is reviewed and sent:
    # the source compiled (MJML), its styles inlined and sanitized (templates_app.compose).
    body_format = models.CharField(
        _("format"), max_length=8, choices=BodyFormat.choices, default=BodyFormat.HTML, db_default="html"
    )
    source = models.TextField(_("source"), blank=True, default="", db_default="")
    html_body = models.TextField(_("HTML body"), blank=True)
    text_body = models.TextField(_("text body"), blank=True)  # an SMS's whole text
    removed = models.JSONField(default=list, blank=True)  # what the sanitizer took out on the last save
    # SpamAssassin's view of the version when it was submitted (templates_app.spam; SPAMD_URL): the score,
    # and {"threshold", "rules": [[points, name, description], ...]} or {"error"}.
    spam_score = models.FloatField(null=True, blank=True)
    spam_report = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Everyone who wrote or changed this version's content, whatever the door: "user:<pk>" for a person
    # (also the person who created the API key a change came through) and "key:<key id>".
    writers = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        verbose_name = _("template version")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique"),
            # At most one version of a template is being edited or reviewed at a time.
            models.UniqueConstraint(
                fields=["template"],
                condition=Q(status__in=["draft", "submitted"]),
                name="template_one_open_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.number}"
