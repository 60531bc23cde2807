"""Password change and reset by email."""

import re

from django.core import mail
from django.urls import reverse

from accounts.models import AuditEntry
from tests.base import PASSWORD, AccountTestCase


class PasswordTests(AccountTestCase):
    def test_reset_by_email_sets_a_new_password(self):
        response = self.client.post(reverse("password_reset"), {"email": "Viewer@example.com"})
        self.assertRedirects(response, reverse("password_reset_done"))
        self.assertEqual(mail.outbox[0].to, ["viewer@example.com"])
        link = re.search(r"http://testserver(/password/reset/\S+)", mail.outbox[0].body).group(1)
        form_page = self.client.get(link, follow=True)
        self.assertContains(form_page, "Choose a new password")
        done = self.client.post(
            form_page.redirect_chain[-1][0],
            {"new_password1": "brand new Pass 42", "new_password2": "brand new Pass 42"},
        )
        self.assertRedirects(done, reverse("password_reset_complete"))
        self.viewer.refresh_from_db()
        self.assertTrue(self.viewer.check_password("brand new Pass 42"))
        self.assertTrue(
            AuditEntry.objects.filter(action="user.password_reset", actor_user=self.viewer).exists()
        )
        # The link works once.
        self.assertContains(self.client.get(link, follow=True), "invalid or was already used")

    def test_reset_of_an_unknown_address_reveals_nothing(self):
        response = self.client.post(reverse("password_reset"), {"email": "nobody@example.com"})
        self.assertRedirects(response, reverse("password_reset_done"))
        self.assertEqual(mail.outbox, [])

    def test_change_password_needs_the_old_one(self):
        self.client.force_login(self.operator)
        url = reverse("password_change")
        bad = self.client.post(
            url, {"old_password": "wrong", "new_password1": "x Pass 4242", "new_password2": "x Pass 4242"}
        )
        self.assertContains(bad, "incorrect")
        good = self.client.post(
            url, {"old_password": PASSWORD, "new_password1": "x Pass 4242", "new_password2": "x Pass 4242"}
        )
        self.assertRedirects(good, reverse("password_change_done"))
        self.operator.refresh_from_db()
        self.assertTrue(self.operator.check_password("x Pass 4242"))
        self.assertTrue(
            AuditEntry.objects.filter(action="user.password_change", actor_user=self.operator).exists()
        )
