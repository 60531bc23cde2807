"""Forms of the webhook pages: an endpoint (target, events, filters) and a replay range."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.forms import CrispyForm
from stats.models import WebhookEndpoint
from stats.webhooks.events import EVENT_LABELS


class EndpointForm(CrispyForm):
    submit_label = gettext_lazy("Save endpoint")

    kind = forms.ChoiceField(
        label=gettext_lazy("Send events as"),
        choices=WebhookEndpoint.Kind.choices,
        initial=WebhookEndpoint.Kind.WEBHOOK,
        widget=forms.RadioSelect,
    )
    url = forms.CharField(
        label=gettext_lazy("URL"),
        max_length=500,
        required=False,
        help_text=gettext_lazy("Where events are POSTed, e.g. https://example.com/hooks/directmail."),
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    stream = forms.CharField(
        label=gettext_lazy("Stream name"),
        max_length=64,
        required=False,
        initial="events",
        help_text=gettext_lazy("Events are added to the Redis stream directmail:ACCOUNT-ID:NAME."),
    )
    event_types = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=list(EVENT_LABELS.items()),
        initial=["delivered", "failed", "invalid"],
        widget=forms.CheckboxSelectMultiple,
    )
    sender_address = forms.ChoiceField(label=gettext_lazy("Only mail from"), required=False)
    tag_name = forms.ChoiceField(label=gettext_lazy("Only mail tagged"), required=False)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        senders = account.sender_addresses.filter(deleted_at__isnull=True).order_by("address")
        self.fields["sender_address"].choices = [("", _("Any sender address"))] + [
            (address, address) for address in senders.values_list("address", flat=True)
        ]
        self.fields["tag_name"].choices = [("", _("Any tag or none"))] + [
            (name, name) for name in account.tags.order_by("name").values_list("name", flat=True)
        ]
        if not settings.REDIS_URL:
            # Redis streams exist only where the installation runs Redis.
            self.fields["kind"].widget = forms.HiddenInput()
            self.fields["stream"].widget = forms.HiddenInput()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == WebhookEndpoint.Kind.WEBHOOK and not cleaned.get("url"):
            self.add_error("url", _("Enter the URL to send events to."))
        if cleaned.get("kind") == WebhookEndpoint.Kind.REDIS and not cleaned.get("stream"):
            self.add_error("stream", _("Enter a stream name."))
        return cleaned

    @property
    def target_field(self) -> str:
        """The field a refusal of the target belongs to."""
        return "stream" if self.cleaned_data.get("kind") == WebhookEndpoint.Kind.REDIS else "url"


class ReplayForm(CrispyForm):
    submit_label = gettext_lazy("Replay failed events")

    start = forms.DateTimeField(
        label=gettext_lazy("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label=gettext_lazy("To"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] <= cleaned["start"]:
            self.add_error("end", _("The end of the range must be after its start."))
        return cleaned
