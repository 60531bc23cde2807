"""The domain wizard in a browser: add a domain, publish its records in a real DNS server, check it."""

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.services import user_signup
from tests.browser.conftest import screenshot
from tests.dnsserver import DnsServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


@override_settings(SPF_INCLUDE="spf.directmail.test", BOUNCE_MX_HOST="mx.directmail.test")
def test_add_publish_check_verified(new_page):
    user_signup(email="ops@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM)
    page = new_page()
    page.goto("/login/")
    page.get_by_label("Email").fill("ops@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Domains").first.click()
    page.get_by_text("No domain of your own yet").wait_for()
    page.get_by_label("Domain").fill("mail.shop.example")
    page.get_by_role("button", name="Add domain").click()
    page.get_by_role("heading", name="mail.shop.example").wait_for()
    assert page.locator("h1 .badge").inner_text() == "Not verified"

    with DnsServer() as dns:
        # Publish each record exactly as the wizard shows it (the full name below the relative host).
        rows = page.locator("#records-table tbody tr")
        for i in range(rows.count()):
            row = rows.nth(i)
            name = row.locator("td").nth(2).locator("div").inner_text().strip()
            rtype = row.locator("td").nth(1).inner_text().strip()
            value = row.locator("td").nth(3).locator("code").first.inner_text().strip()
            dns.add(name, rtype, value)

        page.get_by_role("button", name="Check now").click()
        page.locator("h1 .badge", has_text="Verified").wait_for()
    statuses = page.locator("#records-table tbody tr td:last-child .badge").all_inner_texts()
    assert statuses == ["Verified"] * 6  # ownership, SPF, DKIM, DMARC, MX, TLS-RPT
    screenshot(page, "domain-verified")
