"""Forms of the template pages (crispy-forms)."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.forms import CrispyForm
from templates_app.models import MAX_NAME_LENGTH, BodyFormat, TemplateKind


class TemplateForm(CrispyForm):
    submit_label = _("Create template")

    name = forms.CharField(label=_("Name"), max_length=MAX_NAME_LENGTH)
    kind = forms.ChoiceField(label=_("Kind"), choices=TemplateKind.choices, initial=TemplateKind.EMAIL)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)


class ContentForm(CrispyForm):
    submit_label = _("Save draft")

    subject = forms.CharField(label=_("Subject"), max_length=256, required=False)
    from_alias = forms.CharField(
        label=_("Sender name"),
        max_length=30,
        required=False,
        help_text=_("The name recipients see beside the sender address, unless a send gives its own."),
    )
    body_format = forms.ChoiceField(
        label=_("Body written in"),
        choices=BodyFormat.choices,
        initial=BodyFormat.HTML,
        required=False,  # a post without it is HTML
        widget=forms.RadioSelect(attrs={"class": "form-check-inline"}),
        help_text=_(
            "MJML is compiled to responsive HTML when the draft is saved; either way styles are inlined."
        ),
    )
    html_body = forms.CharField(
        label=_("Body"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 16, "class": "font-monospace", "spellcheck": "false", "data-code-editor": "html"}
        ),
        help_text=_(
            "Variables: {UserName}, {NickName}, {Gender}, {Birthday}, {Mobile}, {EAddr} or a list field."
        ),
    )
    text_body = forms.CharField(
        label=_("Text body"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "data-code-editor": "text"}),
        help_text=_("Left empty, a text version is made from the HTML when sending (links keep their URLs)."),
    )

    # The sample values the editor's table holds, as JSON (kept with the template when the draft is saved).
    sample_data = forms.CharField(required=False, widget=forms.HiddenInput(attrs={"id": "sample-data"}))

    def clean_body_format(self) -> str:
        return self.cleaned_data.get("body_format") or BodyFormat.HTML

    def clean_sample_data(self) -> dict[str, str]:
        raw = self.cleaned_data.get("sample_data") or "{}"
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or len(raw) > 20_000:
            raise forms.ValidationError(_("The sample data could not be read; set the values again."))
        return {str(k)[:100]: str(v)[:1000] for k, v in data.items()}

    def __init__(self, *args, sms: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper.form_id = "content-form"
        if sms:
            del self.fields["subject"], self.fields["html_body"], self.fields["from_alias"]
            del self.fields["body_format"]
            self.fields["text_body"].label = _("Text")
            self.fields["text_body"].help_text = ""


class RejectForm(CrispyForm):
    submit_label = _("Reject")

    comment = forms.CharField(
        label=_("Why (the author reads this)"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class TestSendForm(CrispyForm):
    submit_label = _("Send a test")

    sender = forms.ChoiceField(label=pgettext_lazy("sender", "From"))
    to = forms.EmailField(label=_("To"))
    data = forms.CharField(  # type: ignore[assignment]  # a field named like Form.data, as posted
        label=_("Sample data (JSON)"), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        addresses = account.sender_addresses.filter(deleted_at__isnull=True).order_by("address")
        self.fields["sender"].choices = [(a.address, a.address) for a in addresses]
