"""Forms of the sending area. Rules that need the database live in the services; forms check shape."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import CrispyForm
from sending.models import Domain, DomainStatus, SendType
from sending.services.senders import MIN_SMTP_PASSWORD


class DomainForm(CrispyForm):
    submit_label = _("Add domain")
    name = forms.CharField(
        label=_("Domain"),
        max_length=253,
        help_text=_(
            "A subdomain such as mail.example.com keeps sending reputation apart from your main domain."
        ),
        widget=forms.TextInput(attrs={"placeholder": "mail.example.com", "autofocus": True}),
    )


class SenderAddressForm(CrispyForm):
    submit_label = _("Create sender address")
    local_part = forms.CharField(
        label=_("Name before the @"), max_length=64, widget=forms.TextInput(attrs={"placeholder": "noreply"})
    )
    domain = forms.ModelChoiceField(
        label=_("Domain"), queryset=Domain.objects.none(), to_field_name="public_id"
    )
    send_type = forms.ChoiceField(
        label=_("Type"),
        choices=SendType.choices,
        widget=forms.RadioSelect,
        initial=SendType.TRIGGER,
        help_text=_("Trigger: one message per event (sign-up, receipt). Batch: campaigns to lists."),
    )
    reply_to = forms.EmailField(
        label=_("Reply-to address"),
        required=False,
        help_text=_("Optional. We mail it a link; replies go there once it is confirmed."),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["domain"].queryset = Domain.objects.alive().filter(
            account=account, status=DomainStatus.VERIFIED
        )


class ReplyToForm(CrispyForm):
    submit_label = _("Save reply-to")
    reply_to = forms.EmailField(label=_("Reply-to address"), required=False)


class SmtpPasswordForm(CrispyForm):
    submit_label = _("Set SMTP password")
    password = forms.CharField(
        label=_("New SMTP password"),
        required=False,
        strip=False,
        min_length=MIN_SMTP_PASSWORD,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate a strong one. Either way it is shown once."),
    )


class TagForm(CrispyForm):
    submit_label = _("Save tag")
    name = forms.CharField(
        label=_("Name"),
        max_length=128,
        help_text=_("1 to 128 letters, digits, underscores, hyphens or dots. Used as TagName in the API."),
    )
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
