"""Forms of the sending area. Rules that need the database live in the services; forms check shape."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.forms import CrispyForm
from sending.bounce_categories import Category
from sending.models import (
    Domain,
    DomainStatus,
    EgressAddress,
    IpPool,
    MessageState,
    SenderAddress,
    SendType,
    UnsubscribeLevel,
    WarmupType,
)
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
    domain: forms.ModelChoiceField = forms.ModelChoiceField(
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
        self.fields["domain"].empty_label = None


class ReplyToForm(CrispyForm):
    submit_label = _("Save reply-to")
    reply_to = forms.EmailField(label=_("Address"), required=False)  # under the heading "Reply-to address"


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


class MessageFilterForm(forms.Form):
    """Filters of the message log; every field optional."""

    q = forms.CharField(label=_("Recipient, subject or EnvId"), required=False, max_length=254)
    state = forms.ChoiceField(label=_("Status"), required=False)
    category = forms.ChoiceField(label=_("Bounce category"), required=False)
    sender = forms.CharField(label=_("Sender address"), required=False, max_length=254)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=128)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("Any status")), *MessageState.choices]
        self.fields["category"].choices = [("", _("Any category")), *Category.choices]
        for field in self.fields.values():
            select = isinstance(field, forms.ChoiceField)
            field.widget.attrs.setdefault(
                "class", "form-select form-select-sm" if select else "form-control form-control-sm"
            )


def sender_label(sender: SenderAddress) -> str:
    """A sender address as choices show it; the sandbox's says where its mail goes."""
    if sender.domain.sandbox:
        return _("%(address)s (sandbox: Outbox only)") % {"address": sender.address}
    return sender.address


class TestSendForm(CrispyForm):
    submit_label = _("Send test message")
    sender: forms.ModelChoiceField = forms.ModelChoiceField(
        label=pgettext_lazy("sender", "From"), queryset=None, to_field_name="public_id"
    )
    to = forms.CharField(
        label=_("To"),
        max_length=2000,
        help_text=_("One or more addresses, separated by commas (at most 100)."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=500)
    html_body = forms.CharField(
        label=_("HTML body"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    text_body = forms.CharField(
        label=_("Text body"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    tag: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("Tag"), queryset=None, required=False, to_field_name="name"
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sender"].queryset = (
            SenderAddress.objects.alive()
            .filter(account=account)
            .select_related("domain")
            .order_by("domain__sandbox", "address")
        )
        self.fields["sender"].label_from_instance = sender_label
        self.fields["sender"].empty_label = None  # required: start on the first address
        self.fields["tag"].queryset = account.tags.all()

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("html_body") and not cleaned.get("text_body"):
            raise forms.ValidationError(_("Write an HTML body, a text body or both."))
        return cleaned


class SuppressionForm(CrispyForm):
    submit_label = _("Add to the suppression list")
    address = forms.EmailField(label=_("Address"))
    detail = forms.CharField(label=_("Note"), required=False, max_length=500)
    expires = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional: the address may be sent to again after this day."),
    )


class SuppressionImportForm(CrispyForm):
    submit_label = _("Import")
    file = forms.FileField(
        label=_("CSV or TXT file"),
        help_text=_("One address per line, or a CSV whose first column is the address. At most 5 MB."),
    )


class BatchJobForm(CrispyForm):
    """A batch send: what, to whom, from where, when. The services check the rest (approval, quota)."""

    submit_label = _("Save and check")
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("For you: shown in the list of batch sends.")
    )
    template: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("Template"),
        queryset=None,
        to_field_name="public_id",
        help_text=_("Its approved version is sent."),
    )
    recipient_list: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("Recipient list"), queryset=None, to_field_name="public_id"
    )
    sender: forms.ModelChoiceField = forms.ModelChoiceField(
        label=pgettext_lazy("sender", "From"),
        queryset=None,
        to_field_name="public_id",
        help_text=_("A sender address of the batch type."),
    )
    tag: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("Tag"), queryset=None, required=False, to_field_name="public_id"
    )
    unsubscribe_link = forms.BooleanField(
        label=_("Unsubscribe link and List-Unsubscribe headers"), required=False, initial=True
    )
    unsubscribe_level = forms.ChoiceField(
        label=_("An unsubscribe stops"), choices=UnsubscribeLevel.choices, initial=UnsubscribeLevel.DOMAIN
    )
    open_trace = forms.BooleanField(label=_("Track opens"), required=False)
    click_trace = forms.BooleanField(label=_("Track clicks"), required=False)
    rate_per_minute = forms.IntegerField(
        label=_("At most this many per minute"),
        required=False,
        min_value=1,
        help_text=_("Optional: spreads the send out, on top of the limits per receiving domain."),
    )
    when = forms.ChoiceField(
        label=_("When"),
        choices=[("now", _("As soon as it is confirmed")), ("later", _("At a time"))],
        widget=forms.RadioSelect,
        initial="now",
    )
    scheduled_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In the account's time zone."),
    )
    spread_days = forms.BooleanField(
        label=_("If the daily quota runs out, go on the next day"),
        required=False,
        help_text=_("Otherwise a send larger than what is left of today's quota is refused."),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        from templates_app.models import Template, TemplateKind

        self.fields["template"].queryset = Template.objects.filter(
            account=account, kind=TemplateKind.EMAIL, approved_version__isnull=False
        )
        self.fields["recipient_list"].queryset = account.recipient_lists.order_by("name")
        self.fields["sender"].queryset = SenderAddress.objects.alive().filter(
            account=account, send_type=SendType.BATCH
        )
        self.fields["sender"].empty_label = None
        self.fields["tag"].queryset = account.tags.all()
        self.fields["scheduled_at"].help_text = _("In the account's time zone (%(zone)s).") % {
            "zone": account.time_zone
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("when") == "later":
            at = cleaned.get("scheduled_at")
            if at is None:
                self.add_error("scheduled_at", _("Say when to send."))
            elif at <= timezone.now():
                self.add_error("scheduled_at", _("That time has passed."))
        else:
            cleaned["scheduled_at"] = None
        return cleaned


class IpPoolForm(CrispyForm):
    """An IP pool: its name and which of the account's dedicated addresses it has."""

    submit_label = _("Save IP pool")
    name = forms.CharField(
        label=_("Name"), max_length=50, help_text=_("1 to 50 letters, digits, underscores or hyphens.")
    )
    addresses = forms.ModelMultipleChoiceField(
        label=_("Addresses"),
        queryset=EgressAddress.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("An address is in one pool at most: choosing it here takes it out of its other pool."),
    )
    default = forms.BooleanField(
        label=_("Default pool of the account"),
        required=False,
        help_text=_("Mail that names no pool and whose sender has no configuration set leaves from it."),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["addresses"].queryset = EgressAddress.objects.filter(account=account).order_by("address")


class ConfigSetForm(CrispyForm):
    """A configuration set: the pool its senders' mail leaves from, and the senders bound to it."""

    submit_label = _("Save configuration set")
    name = forms.CharField(
        label=_("Name"), max_length=50, help_text=_("1 to 50 letters, digits, underscores or hyphens.")
    )
    description = forms.CharField(label=_("Description"), max_length=50, required=False)
    ip_pool = forms.ModelChoiceField(
        label=_("IP pool"),
        queryset=IpPool.objects.none(),
        required=False,
        empty_label=_("None (the account's default addresses)"),
    )
    backoff = forms.BooleanField(
        label=_("Back off to the shared addresses"),
        required=False,
        help_text=_(
            "When the pool cannot take more today (warm-up caps), the shared addresses carry the rest. "
            "Otherwise the rest waits for the next day."
        ),
    )
    senders = forms.ModelMultipleChoiceField(
        label=_("Sender addresses"),
        queryset=SenderAddress.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A sender goes by one set at most: choosing it here takes it from its other set."),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ip_pool"].queryset = IpPool.objects.filter(account=account)
        self.fields["senders"].queryset = SenderAddress.objects.alive().own().filter(account=account)


class WarmupForm(forms.Form):
    warmup = forms.ChoiceField(choices=WarmupType.choices)
