"""Importing a list in a browser: an operator creates a list, uploads the GBK file Chinese Excel saves,
checks the preview and maps the columns, watches the progress bar move without reloading, sees the result
and downloads the rows that were not imported."""

from pathlib import Path

import pytest
from django_q.conf import Conf

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.lists.importer import import_run
from sending.models import ImportStatus, Recipient, RecipientImport
from tests.browser.conftest import log_in, screenshot
from tests.lists.helpers import csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


def test_upload_map_watch_and_download_rejected_rows(new_page, monkeypatch):
    user_signup(email="owner@example.com", password=PASSWORD, account_name="商店", actor=SYSTEM)
    # The import waits in the queue, as it would for a worker, instead of running inside the request.
    monkeypatch.setattr(Conf, "SYNC", False)
    rows = [
        ["邮箱", "姓名", "城市"],
        ["li.lei@example.com", "李雷", "杭州"],
        ["han@example.com", "韩梅梅", "北京"],
        ["not-an-address", "某人", "上海"],
        ["LI.LEI@example.com", "李雷", "杭州"],
    ]
    page = new_page()
    log_in(page, "owner@example.com", PASSWORD)
    page.get_by_role("link", name="Recipient lists").first.click()
    page.get_by_text("No recipient lists yet").wait_for()
    page.get_by_label("Name").fill("会员")
    page.get_by_role("button", name="Save list").click()
    page.get_by_text("List 会员 created").wait_for()
    page.get_by_role("link", name="Import a file").click()
    page.get_by_label("CSV or TXT file").set_input_files(
        files=[{"name": "会员.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows, encoding="gbk")}]
    )
    page.get_by_role("button", name="Upload and preview").click()

    page.locator("#preview-table").get_by_text("韩梅梅").wait_for()  # decoded from GBK
    assert page.locator("#id_encoding").input_value() == "gb18030"
    assert page.locator("#id_col_0").input_value() == "email"
    assert page.locator("#id_col_1").input_value() == "user_name"
    assert page.locator("#id_col_2").input_value() == "custom"
    page.locator("#id_name_2").fill("City")
    screenshot(page, "list-import-mapping")
    page.get_by_role("button", name="Start the import").click()

    bar = page.locator("#import-progress .progress-bar")
    bar.wait_for()
    recipient_import = RecipientImport.objects.get()
    assert recipient_import.status == ImportStatus.QUEUED
    # What the worker reports while it reads, the page shows without reloading.
    marker = page.evaluate("() => (window.stillTheSamePage = true)")
    RecipientImport.objects.filter(pk=recipient_import.pk).update(
        status=ImportStatus.RUNNING, progress=42, rows_read=2
    )
    page.locator("#import-progress").get_by_text("42%").wait_for()
    assert page.evaluate("() => window.stillTheSamePage") is marker
    screenshot(page, "list-import-progress")

    # The worker runs it; the page notices the end and shows the result.
    RecipientImport.objects.filter(pk=recipient_import.pk).update(status=ImportStatus.QUEUED)
    import_run(recipient_import.pk)
    # Not a green "Done": an invalid address was left out.
    page.get_by_text("Done, but not every address is in the list: 1 invalid, 0 over").wait_for()
    assert "alert-warning" in page.locator("[role=status]").first.get_attribute("class")
    counts = page.locator("#import-counts")
    assert counts.locator("tr", has_text="Added").locator("td").first.inner_text() == "2"
    assert counts.locator("tr", has_text="Duplicates").locator("td").first.inner_text() == "1"
    assert counts.locator("tr", has_text="Invalid").locator("td").first.inner_text() == "1"
    screenshot(page, "list-import-done")
    with page.expect_download() as download:
        page.locator("#rejected-download").click()
    report = Path(download.value.path()).read_bytes().decode("utf-8-sig").splitlines()
    assert report[0] == "Row,Reason,邮箱,姓名,城市"
    assert report[1] == "4,not-an-address is not a valid address.,not-an-address,某人,上海"
    assert report[2] == "5,The same address as row 2.,LI.LEI@example.com,李雷,杭州"

    page.get_by_role("link", name="Back to 会员").click()
    page.locator("#recipients-table").get_by_text("han@example.com").wait_for()
    assert Recipient.objects.get(email_key="li.lei@example.com").custom == {"City": "杭州"}
