"""Forms of the recipient-list pages. They check shape; sending.services.lists checks the rest."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.forms import CrispyForm
from sending.lists.detect import DELIMITER_LABELS, ENCODING_LABELS
from sending.lists.fields import VARIABLE_OF
from sending.models import ImportMode


class RecipientListForm(CrispyForm):
    submit_label = _("Save list")
    name = forms.CharField(
        label=_("Name"), max_length=30, help_text=_("Up to 30 characters; ReceiversName in the API.")
    )
    alias = forms.EmailField(
        label=_("Alias address"),
        required=False,
        max_length=254,
        help_text=_("Optional: an address that stands for the list."),
    )
    description = forms.CharField(label=_("Description"), required=False, max_length=255)


class RecipientForm(CrispyForm):
    submit_label = _("Save recipient")
    email = forms.CharField(label=_("Address"), max_length=254)
    user_name = forms.CharField(label=_("User name (UserName)"), required=False, max_length=64)
    nick_name = forms.CharField(label=_("Nickname (NickName)"), required=False, max_length=64)
    gender = forms.CharField(label=_("Gender (Gender)"), required=False, max_length=16)
    birthday = forms.CharField(label=_("Birthday (Birthday)"), required=False, max_length=32)
    mobile = forms.CharField(label=_("Mobile (Mobile)"), required=False, max_length=32)
    custom = forms.CharField(
        label=_("Custom fields"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "City=Hangzhou"}),
        help_text=_("One per line as Name=value; templates use them as {Name}."),
    )

    def clean_custom(self) -> dict[str, str]:
        fields = {}
        for number, line in enumerate(self.cleaned_data["custom"].splitlines(), start=1):
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            if not equals or not name.strip():
                raise forms.ValidationError(_("Line %(n)s: write Name=value.") % {"n": number})
            fields[name.strip()] = value.strip()
        return fields

    @staticmethod
    def initial_for(recipient) -> dict:
        initial = {name: getattr(recipient, name) for name in VARIABLE_OF}
        initial["email"] = recipient.email
        initial["custom"] = "\n".join(f"{k}={v}" for k, v in recipient.custom.items())
        return initial


class ImportUploadForm(CrispyForm):
    submit_label = _("Upload and preview")
    file = forms.FileField(label=_("CSV or TXT file"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "From Excel, a CRM or any tool: UTF-8, GBK or UTF-16 text, separated by commas, semicolons or "
            "tabs, with or without a header row. At most %(mb)s MB."
        ) % {"mb": settings.LIST_IMPORT_MAX_BYTES // (1024 * 1024)}


TARGET_CHOICES = [
    ("", _("Leave out")),
    ("email", _("Address")),
    *((name, variable) for name, variable in VARIABLE_OF.items()),
    ("custom", _("Custom field")),
]


class ImportMappingForm(forms.Form):
    """The file's format (as detected, changeable), what each column is, and how to import."""

    encoding = forms.ChoiceField(label=_("Encoding"), choices=list(ENCODING_LABELS.items()))
    delimiter = forms.ChoiceField(label=_("Separated by"), choices=list(DELIMITER_LABELS.items()))
    has_header = forms.BooleanField(label=_("The first row holds column names"), required=False)
    mode = forms.ChoiceField(
        label=_("How to import"), choices=ImportMode.choices, initial=ImportMode.ADD, widget=forms.RadioSelect
    )
    validate_after = forms.BooleanField(
        label=_("Validate the list's addresses after the import (no message is sent)"), required=False
    )

    def __init__(self, *args, columns: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = columns
        for i in range(columns):
            self.fields[f"col_{i}"] = forms.ChoiceField(
                label=_("Column %(n)s") % {"n": i + 1}, choices=TARGET_CHOICES, required=False
            )
            self.fields[f"name_{i}"] = forms.CharField(label=_("Field name"), required=False, max_length=64)
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select form-select-sm")
            elif isinstance(field.widget, forms.TextInput):
                field.widget.attrs.setdefault("class", "form-control form-control-sm")
            elif isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
            if name.startswith("name_"):
                field.widget.attrs["placeholder"] = _("Name")

    @staticmethod
    def initial_for(found, mode: str = ImportMode.ADD) -> dict:
        initial = {
            "encoding": found.encoding if found.encoding in ENCODING_LABELS else "utf-16",
            "delimiter": found.delimiter,
            "has_header": found.has_header,
            "mode": mode,
        }
        for i, target in enumerate(found.guesses):
            if target.startswith("custom:"):
                initial[f"col_{i}"], initial[f"name_{i}"] = "custom", target.split(":", 1)[1]
            else:
                initial[f"col_{i}"] = target
        return initial

    def columns_fields(self):
        """(choice field, name field) per column, for the mapping table."""
        return [(self[f"col_{i}"], self[f"name_{i}"]) for i in range(self.columns)]

    def mapping(self) -> list[str]:
        mapping = []
        for i in range(self.columns):
            target = self.cleaned_data.get(f"col_{i}", "")
            if target == "custom":
                target = f"custom:{self.cleaned_data.get(f'name_{i}', '').strip()}"
            mapping.append(target)
        return mapping
