"""A new user signs up, lands on Overview, invites a colleague who accepts in another browser."""

import re

import pytest
from django.core import mail

from accounts.models import Membership
from tests.browser.conftest import screenshot, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


def test_signup_invite_and_accept(new_page):
    owner = new_page()
    sign_up(owner, name="Wang Fang", email="fang@example.com", password=PASSWORD, account="Fang Mail")
    assert owner.get_by_text("Verify a sending domain").is_visible()
    assert owner.locator("#account-switcher").inner_text().strip() == "Fang Mail"
    screenshot(owner, "overview-new-account")

    owner.get_by_role("link", name="Members").first.click()
    owner.get_by_label("Email").fill("lei@example.com")
    owner.get_by_label("Role").select_option("reviewer")
    owner.get_by_role("button", name="Send invitation").click()
    owner.get_by_text("Invitation sent to lei@example.com").wait_for()
    assert owner.locator("#invitations-table").get_by_text("lei@example.com").is_visible()

    # The invitation email carries the link; the invitee opens it in their own browser.
    link = re.search(r"/invitations/\S+", mail.outbox[-1].body).group(0)
    invitee = new_page()
    invitee.goto(link)
    invitee.get_by_text("This invitation is for").wait_for()
    invitee.get_by_label("Your name").fill("Li Lei")
    invitee.locator("#id_password1").fill(PASSWORD)
    invitee.locator("#id_password2").fill(PASSWORD)
    invitee.get_by_role("button", name="Create login and join").click()
    invitee.get_by_text("Welcome! You joined Fang Mail.").wait_for()
    assert invitee.locator("#account-switcher").inner_text().strip() == "Fang Mail"

    owner.reload()
    row = owner.locator("#members-table tr", has_text="lei@example.com")
    assert "Reviewer" in row.inner_text()
    assert owner.locator("#invitations-table").count() == 0
    screenshot(owner, "members-after-accept")
    assert Membership.objects.get(user__email="lei@example.com").role == "reviewer"
