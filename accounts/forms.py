"""Forms of the accounts area. Validation lives here or in the services, never in templates."""

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from django.utils.translation import gettext_lazy as _

from accounts import throttle
from accounts.audit import action_label
from accounts.models import Account, AccountKind, AuditEntry, User, time_zone_choices
from accounts.network import client_ip
from accounts.roles import Role, roles_assignable_by


class CrispyHelperMixin:
    """Give a form a crispy-forms helper with one submit button."""

    submit_label = _("Save")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", self.submit_label))


class CrispyForm(CrispyHelperMixin, forms.Form):
    pass


class EmailAuthenticationForm(CrispyHelperMixin, AuthenticationForm):
    """Log-in, limited per login and per client address (accounts.throttle)."""

    submit_label = _("Log in")

    username = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean(self):
        login, ip = self.cleaned_data.get("username") or "", client_ip(self.request) if self.request else None
        scopes = throttle.console_scopes(login, ip)
        if throttle.attempts_take(scopes) is not None:
            raise throttle.console_refusal()
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.console_failed(scopes, login=login, ip=ip)
            raise
        for scope in scopes:
            throttle.attempt_give_back(scope)
        return cleaned


class CrispyPasswordChangeForm(CrispyHelperMixin, PasswordChangeForm):
    submit_label = _("Change password")


class CrispyPasswordResetForm(CrispyHelperMixin, PasswordResetForm):
    submit_label = _("Email me a reset link")


class CrispySetPasswordForm(CrispyHelperMixin, SetPasswordForm):
    submit_label = _("Set password")


class PasswordFieldsMixin:
    """Two password fields, checked against each other and Django's password validators."""

    def clean_password2(self):
        password1 = self.cleaned_data.get("password1")
        password2 = self.cleaned_data.get("password2")
        if password1 and password2 and password1 != password2:
            raise forms.ValidationError(_("The two passwords do not match."))
        user = User(
            email=self.cleaned_data.get("email", ""), full_name=self.cleaned_data.get("full_name", "")
        )
        password_validation.validate_password(password2, user)
        return password2


# What the two account types mean, as DirectMail has them: the limits differ, nothing else.
KIND_HELP = _(
    "Enterprise accounts get DirectMail's higher limits (more domains, sender addresses and mail a day); "
    "personal accounts the lower ones. The limits are shown on the Overview, and the platform's staff can "
    "change them."
)


class SignupForm(PasswordFieldsMixin, CrispyForm):
    submit_label = _("Create account")

    full_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    account_name = forms.CharField(
        label=_("Account name"),
        max_length=100,
        help_text=_("Usually your company or project; you can invite colleagues to it later."),
    )
    kind = forms.ChoiceField(
        label=_("Account type"),
        choices=AccountKind.choices,
        initial=AccountKind.ENTERPRISE,
        widget=forms.RadioSelect,
        help_text=KIND_HELP,
    )

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("An account with this email address already exists. Log in instead.")
            )
        return email


class InvitationSignupForm(PasswordFieldsMixin, CrispyForm):
    """Sign-up of an invited person: the email is the invited one, and no account of their own is made."""

    submit_label = _("Create login and join")

    full_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    password1 = SignupForm.base_fields["password1"]
    password2 = SignupForm.base_fields["password2"]

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        self.cleaned_data["email"] = self.email
        return super().clean()


class AccountCreateForm(CrispyForm):
    submit_label = _("Create account")

    name = forms.CharField(label=_("Account name"), max_length=100)
    kind = forms.ChoiceField(
        label=_("Account type"),
        choices=AccountKind.choices,
        initial=AccountKind.ENTERPRISE,
        widget=forms.RadioSelect,
        help_text=KIND_HELP,
    )


class AccountSettingsForm(CrispyHelperMixin, forms.ModelForm):
    class Meta:
        model = Account
        fields = ["name", "time_zone", "templates_need_second_person"]
        widgets = {"time_zone": forms.Select(choices=time_zone_choices)}  # type: ignore[arg-type]  # lazy
        help_texts = {
            "time_zone": _("Quota days, statistics and every time in the console follow this time zone."),
            "templates_need_second_person": _(
                "Four eyes: someone other than the author or submitter approves each template version."
            ),
        }


class InviteForm(CrispyForm):
    submit_label = _("Send invitation")

    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.OPERATOR)

    def __init__(self, *args, inviter_role: str, **kwargs):
        super().__init__(*args, **kwargs)
        role: Any = self.fields["role"]  # a ChoiceField
        role.choices = [(r.value, r.label) for r in roles_assignable_by(inviter_role)]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class AuditFilterForm(forms.Form):
    """Filters of the audit log page; every field is optional."""

    action = forms.ChoiceField(
        label=_("Action"), required=False, widget=forms.Select(attrs={"class": "form-select form-select-sm"})
    )
    actor = forms.CharField(
        label=_("Who"),
        required=False,
        max_length=254,
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-sm", "placeholder": _("email or key")}
        ),
    )
    since = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )
    until = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        actions = AuditEntry.objects.filter(account=account).values_list("action", flat=True).distinct()
        self.fields["action"].choices = [("", _("Any action"))] + [  # type: ignore[attr-defined]
            (a, action_label(a)) for a in sorted(set(actions))
        ]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned
