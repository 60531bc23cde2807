"""URLs of the accounts area. Account-scoped pages live under /a/<account_id>/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import access_views, views
from accounts.forms import (
    CrispyPasswordResetForm,
    EmailAuthenticationForm,
)

app_name = "accounts"

urlpatterns = [
    path("accounts/new/", views.account_new, name="account_new"),
    path("a/<str:account_id>/", views.overview, name="overview"),
    path("a/<str:account_id>/members/", views.members, name="members"),
    path("a/<str:account_id>/members/invite/", views.member_invite, name="member_invite"),
    path("a/<str:account_id>/members/<str:member_id>/role/", views.member_role, name="member_role"),
    path("a/<str:account_id>/members/<str:member_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "a/<str:account_id>/invitations/<str:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("a/<str:account_id>/settings/", views.account_settings, name="settings"),
    path("a/<str:account_id>/audit/", views.audit_log, name="audit_log"),
    path("a/<str:account_id>/access-keys/", access_views.access_keys, name="access_keys"),
    path("a/<str:account_id>/access-keys/new/", access_views.access_key_create, name="access_key_create"),
    path(
        "a/<str:account_id>/access-keys/<str:key_id>/toggle/",
        access_views.access_key_toggle,
        name="access_key_toggle",
    ),
    path(
        "a/<str:account_id>/access-keys/<str:key_id>/delete/",
        access_views.access_key_delete,
        name="access_key_delete",
    ),
    path("a/<str:account_id>/ip-protection/", access_views.ip_protection, name="ip_protection"),
    path(
        "a/<str:account_id>/ip-protection/<str:entry_id>/delete/",
        access_views.ip_filter_delete,
        name="ip_filter_delete",
    ),
]

# Log-in, sign-up and password pages keep Django's URL names (no namespace): Django's own views reverse them.
auth_urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("language/", views.language_set, name="language"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            form_class=CrispyPasswordResetForm,
            email_template_name="emails/password_reset.txt",
            subject_template_name="emails/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("confirm-password/", access_views.confirm_password, name="confirm_password"),
]
