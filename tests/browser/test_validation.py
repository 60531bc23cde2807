"""Address validation in a browser: an operator checks one address (and is offered the corrected one),
validates a file and sees its breakdown with the chart and downloads the results, validates a recipient
list and removes what is invalid after confirming; and the same pages in Simplified Chinese."""

from pathlib import Path

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.models import ValidationJob
from sending.services import lists as list_service
from tests.browser.conftest import log_in, screenshot, switch_to_chinese
from tests.browser.test_chinese import english_left
from tests.dnsserver import DnsServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"
ROWS = "name,email\nAnn,ann@dest.example\nBob,bob@gmial.com\nCy,temp@mailinator.com\nDi,di@nowhere.example\n"


@pytest.fixture
def dns():
    with DnsServer() as server:
        server.add("dest.example", "MX", "10 mx.dest.example")
        yield server


def test_one_address_a_file_and_a_list(new_page, live_server, dns):
    _owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM
    )
    members = list_service.list_create(account=account, name="members", actor=SYSTEM)
    details = [{"e": a} for a in ("ann@dest.example", "bob@gmial.com", "temp@mailinator.com")]
    list_service.recipients_save(recipient_list=members, details=details, actor=SYSTEM)
    page = new_page()
    log_in(page, "owner@example.com", PASSWORD)
    page.locator(".console-sidebar").get_by_role("link", name="Address validation").click()
    page.get_by_text("No validations yet.").wait_for()

    # One address: a typo of a big provider, with the address meant.
    page.locator("#check-form input[name=email]").fill("ann@gmial.com")
    page.get_by_role("button", name="Validate", exact=True).click()
    result = page.locator("#check-result")
    result.get_by_text("Did you mean ann@gmail.com?").wait_for()
    assert result.locator("[data-status]").inner_text() == "INVALID"

    # A file: the breakdown, the chart, the result CSV.
    page.get_by_label("File").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": ROWS.encode()}]
    )
    page.get_by_label("Address column").fill("2")
    page.get_by_label("The first row is a header").check()
    page.get_by_role("button", name="Validate the file").click()
    page.locator("#validation-totals").wait_for()
    assert page.locator("[data-total=VALID]").inner_text() == "1"
    assert page.locator("[data-total=INVALID]").inner_text() == "2"
    assert page.locator("[data-total=DONOTMAIL]").inner_text() == "1"
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-validation')")  # scripts load last
    assert page.evaluate("() => Chart.getChart('chart-validation').data.datasets[0].data") == [1, 0, 0, 2, 1]
    screenshot(page, "validation-file")
    with page.expect_download() as download:
        page.locator("#download").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[:2] == ["name,email,Status,SubStatus,Suggestion", "Ann,ann@dest.example,VALID,UNSPECIFIED,"]
    assert "Bob,bob@gmial.com,INVALID,MISSPELLED,bob@gmail.com" in lines

    # A list: validated from its page, then its invalid and do-not-mail addresses removed after confirming.
    page.locator(".console-sidebar").get_by_role("link", name="Recipient lists").click()
    page.get_by_role("link", name="members", exact=True).click()
    page.locator("#validate-list").click()
    page.locator("#remove-invalid").click()
    page.get_by_text("Remove 2 invalid and do-not-mail addresses from members?").wait_for()
    assert members.recipients.count() == 3  # nothing yet
    page.get_by_role("button", name="Remove them").click()
    page.wait_for_load_state()
    assert list(members.recipients.values_list("email", flat=True)) == ["ann@dest.example"]
    assert ValidationJob.objects.filter(account=account).count() == 2
    screenshot(page, "validation-list-cleaned")


def test_the_validation_pages_in_chinese(new_page, live_server, dns):
    _owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="商城", actor=SYSTEM
    )
    members = list_service.list_create(account=account, name="会员", actor=SYSTEM)
    details = [{"e": a} for a in ("ann@dest.example", "bob@gmial.com")]
    list_service.recipients_save(recipient_list=members, details=details, actor=SYSTEM)
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        page = new_page()
        log_in(page, "owner@example.com", PASSWORD)
        switch_to_chinese(page)
        page.locator(".console-sidebar").get_by_role("link", name="地址校验", exact=True).click()
        page.wait_for_load_state()
        assert english_left(page) == [], f"English left on {page.url}"
        page.locator("#check-form input[name=email]").fill("ann@gmial.com")
        page.locator("#check-form button").click()
        page.locator("#check-result").wait_for()
        assert english_left(page) == [], f"English left on {page.url}"
        page.locator(".console-sidebar").get_by_role("link", name="收件人列表", exact=True).click()
        page.get_by_role("link", name="会员").click()
        page.locator("#validate-list").click()
        page.locator("#validation-totals").wait_for()
        assert english_left(page) == [], f"English left on {page.url}"
        screenshot(page, "zh-validation-list")
        page.locator(".console-sidebar").get_by_role("link", name="地址校验", exact=True).click()
        page.locator("#validation-jobs").wait_for()
        assert english_left(page) == [], f"English left on {page.url}"
