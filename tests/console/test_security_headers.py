"""Every HTML page of the console carries a Content-Security-Policy that allows only our own scripts; API
answers (JSON) need none."""

from django.test import override_settings
from django.urls import reverse

from tests.base import AccountTestCase


class ContentSecurityPolicyTests(AccountTestCase):
    def test_console_and_login_pages_carry_the_policy(self):
        for response in (
            self.client.get(reverse("login")),
            self.client.get("/signup/"),
        ):
            policy = response["Content-Security-Policy"]
            self.assertIn("script-src 'self'", policy)
            self.assertIn("object-src 'none'", policy)
            self.assertIn("frame-ancestors 'self'", policy)
            self.assertNotIn("unsafe-eval", policy)
        self.client.force_login(self.owner)
        page = self.client.get(reverse("sending:batch_jobs", args=[self.account.public_id]))
        self.assertEqual(page.status_code, 200)
        self.assertIn("script-src 'self'", page["Content-Security-Policy"])
        # No inline handler would run under it: the pages use data attributes and static scripts.
        self.assertNotRegex(page.content.decode(), r"\son[a-z]+=\"")

    def test_json_answers_have_none_and_an_empty_setting_turns_it_off(self):
        answer = self.client.get("/?Action=SingleSendMail")
        self.assertEqual(answer["Content-Type"], "application/json")
        self.assertFalse(answer.has_header("Content-Security-Policy"))
        with override_settings(CONTENT_SECURITY_POLICY=""):
            self.assertFalse(self.client.get(reverse("login")).has_header("Content-Security-Policy"))
