"""Password guessing in the console: log-in and password confirmation are limited per login and per client
address (accounts.throttle), the right password included once the limit is reached, and the audit log of the
person's accounts says so."""

from django.test import override_settings
from django.urls import reverse

from accounts.models import AuditEntry, LoginThrottle
from tests.base import PASSWORD, AccountTestCase


@override_settings(LOGIN_FAILURES_PER_USER=5, LOGIN_FAILURES_PER_IP=8, LOGIN_FAILURE_WINDOW=900)
class LoginLimitTests(AccountTestCase):
    def log_in(self, email: str, password: str, ip: str = "198.51.100.7"):
        return self.client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)

    def test_wrong_passwords_lock_the_login_then_the_right_one_is_refused_too(self):
        for _attempt in range(40):
            response = self.log_in("viewer@example.com", "guess")
            self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Too many failed attempts. Try again in 15 minutes.")
        response = self.log_in("viewer@example.com", PASSWORD, ip="203.0.113.9")  # from elsewhere too
        self.assertContains(response, "Too many failed attempts")
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertEqual(LoginThrottle.objects.get(scope="login-user:viewer@example.com").attempts, 5)
        entry = AuditEntry.objects.get(action="user.login_locked")
        self.assertEqual(
            (entry.account, entry.target_repr, entry.ip), (self.account, "viewer@example.com", "198.51.100.7")
        )
        self.assertEqual(entry.details["locked"], ["login-user"])
        # Others log in as usual; when the window is over, so does the person.
        self.assertRedirects(
            self.log_in("admin@example.com", PASSWORD, ip="203.0.113.9"), "/", fetch_redirect_response=False
        )
        self.client.logout()
        LoginThrottle.objects.update(window_ends_at="2000-01-01T00:00:00Z")
        self.assertRedirects(self.log_in("viewer@example.com", PASSWORD), "/", fetch_redirect_response=False)

    def test_one_address_guessing_many_logins_is_stopped(self):
        for number in range(8):
            self.log_in(f"person{number}@example.com", "guess")
        response = self.log_in("owner@example.com", PASSWORD)
        self.assertContains(response, "Too many failed attempts")
        self.assertRedirects(
            self.log_in("owner@example.com", PASSWORD, ip="203.0.113.9"), "/", fetch_redirect_response=False
        )

    def test_a_right_password_gives_its_place_back(self):
        for _attempt in range(10):
            self.log_in("owner@example.com", PASSWORD)
            self.client.logout()
        self.assertEqual(LoginThrottle.objects.get(scope="login-user:owner@example.com").attempts, 0)

    def test_password_confirmation_is_limited_the_same_way(self):
        self.client.force_login(self.owner)
        url = reverse("confirm_password")
        for _attempt in range(5):
            self.assertContains(self.client.post(url, {"password": "guess"}), "That is not your password.")
        response = self.client.post(url, {"password": PASSWORD})
        self.assertContains(response, "Too many failed attempts")
        self.assertNotIn("reauth_at", self.client.session)
        self.assertTrue(AuditEntry.objects.filter(action="user.login_locked", account=self.account).exists())
