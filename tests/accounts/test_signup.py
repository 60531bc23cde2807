"""Sign-up, log-in, log-out and new accounts."""

from django.test import TestCase
from django.urls import reverse

from accounts.models import Account, AuditEntry, Membership, User
from accounts.roles import Role
from tests.base import PASSWORD, AccountTestCase

SIGNUP = {
    "full_name": "Li Lei",
    "email": "Li.Lei@Example.COM",
    "password1": PASSWORD,
    "password2": PASSWORD,
    "account_name": "Lei Shop",
    "kind": "enterprise",
}


class SignupTests(TestCase):
    def test_signup_creates_user_account_owner_and_lands_on_overview(self):
        response = self.client.post(reverse("signup"), SIGNUP)

        user = User.objects.get()
        account = Account.objects.get()
        self.assertEqual(user.email, "li.lei@example.com")
        self.assertEqual(account.name, "Lei Shop")
        self.assertEqual(account.kind, "enterprise")
        self.assertEqual(Membership.objects.get().role, Role.OWNER)
        self.assertRedirects(response, reverse("accounts:overview", args=[account.public_id]))
        overview = self.client.get(response.url)
        self.assertContains(overview, "Verify a sending domain")
        self.assertEqual(
            set(AuditEntry.objects.values_list("action", flat=True)),
            {"user.signup", "account.create", "member.add"},
        )

    def test_duplicate_email_is_a_form_error_and_creates_nothing(self):
        self.client.post(reverse("signup"), SIGNUP)
        self.client.post(reverse("logout"))
        response = self.client.post(reverse("signup"), {**SIGNUP, "email": "li.lei@example.com"})
        self.assertContains(response, "already exists")
        self.assertEqual(User.objects.count(), 1)
        self.assertEqual(Account.objects.count(), 1)

    def test_mismatched_and_weak_passwords_are_refused(self):
        response = self.client.post(reverse("signup"), {**SIGNUP, "password2": "something else entirely"})
        self.assertContains(response, "do not match")
        response = self.client.post(reverse("signup"), {**SIGNUP, "password1": "123", "password2": "123"})
        self.assertContains(response, "too short")
        self.assertFalse(User.objects.exists())

    def test_login_is_case_insensitive_and_logout_needs_post(self):
        self.client.post(reverse("signup"), SIGNUP)
        self.client.post(reverse("logout"))
        response = self.client.post(
            reverse("login"), {"username": "LI.LEI@example.com", "password": PASSWORD}
        )
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
        self.assertEqual(self.client.get(reverse("logout")).status_code, 405)
        self.client.post(reverse("logout"))
        self.assertRedirects(self.client.get(reverse("home")), reverse("login"))

    def test_wrong_password_is_refused(self):
        self.client.post(reverse("signup"), SIGNUP)
        self.client.post(reverse("logout"))
        response = self.client.post(reverse("login"), {"username": SIGNUP["email"], "password": "nope"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "correct email")


class AccountCreateTests(AccountTestCase):
    def test_a_user_may_own_several_accounts_and_switch(self):
        self.client.force_login(self.viewer)
        response = self.client.post(
            reverse("accounts:account_new"), {"name": "Side project", "kind": "personal"}
        )
        new = Account.objects.get(name="Side project")
        self.assertRedirects(response, reverse("accounts:overview", args=[new.public_id]))
        self.assertEqual(self.membership(self.viewer, new).role, Role.OWNER)
        page = self.client.get(reverse("accounts:overview", args=[new.public_id]))
        # The switcher lists both accounts.
        self.assertContains(page, reverse("accounts:overview", args=[self.account.public_id]))
        self.assertContains(page, "Side project")

    def test_home_lands_on_the_account_used_last(self):
        self.client.force_login(self.owner)
        other = Account.objects.create(name="Second")
        Membership.objects.create(account=other, user=self.owner, role=Role.VIEWER)
        self.client.get(reverse("accounts:overview", args=[other.public_id]))
        self.assertRedirects(
            self.client.get(reverse("home")), reverse("accounts:overview", args=[other.public_id])
        )

    def test_user_without_account_is_asked_to_create_one(self):
        from tests.base import make_user

        self.client.force_login(make_user("lonely@example.com"))
        self.assertRedirects(self.client.get(reverse("home")), reverse("accounts:account_new"))
