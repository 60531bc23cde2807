"""Statistics through the official SDK: per-day requests/successes/failures/invalid addresses, opens and
clicks per day, the filters and DirectMail's date rules."""

from datetime import UTC, datetime

import pytest
from alibabacloud_dm20151123 import models as dm
from Tea.exceptions import TeaException

from sending.models import SenderAddress
from stats import counters
from tests.api.clients import tea_client

pytestmark = pytest.mark.django_db(transaction=True)


def tea_error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


@pytest.fixture
def numbers(api):
    account = api["account"]
    sender = SenderAddress.objects.own().get(account=account)
    day = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    hits = [
        counters.Hit(account.pk, account.time_zone, sender.pk, "welcome", day, kind, count=count, first=True)
        for kind, count in (
            ("accepted", 10),
            ("delivered", 8),
            ("failed", 1),
            ("invalid", 1),
            ("opened", 6),
            ("clicked", 2),
        )
    ]
    hits.append(counters.Hit(account.pk, account.time_zone, sender.pk, "", day, "accepted", count=5))
    counters.add(hits)
    return api


def test_sender_statistics_per_day_with_filters(numbers):
    client = tea_client(numbers)
    request = dm.SenderStatisticsByTagNameAndBatchIDRequest(start_time="2026-11-19", end_time="2026-11-21")
    body = client.sender_statistics_by_tag_name_and_batch_id(request).body
    assert body.total_count == 3
    [_before, day, _after] = body.data.stat
    counts = (day.create_time, day.request_count, day.success_count, day.faild_count, day.unavailable_count)
    assert counts == ("2026-11-20", "15", "8", "1", "1")
    assert (day.succeeded_percent, day.unavailable_percent) == ("53.33%", "6.67%")
    request.tag_name = "welcome"
    request.account_name = "noreply@mail.example.com"
    tagged = client.sender_statistics_by_tag_name_and_batch_id(request).body.data.stat[1]
    assert (tagged.request_count, tagged.succeeded_percent) == ("10", "80.00%")
    request.account_name = "nobody@mail.example.com"
    assert (
        tea_error(lambda: client.sender_statistics_by_tag_name_and_batch_id(request)).code
        == "InvalidMailAddress.NotFound"
    )
    too_long = dm.SenderStatisticsByTagNameAndBatchIDRequest(start_time="2026-10-01", end_time="2026-11-20")
    error = tea_error(lambda: client.sender_statistics_by_tag_name_and_batch_id(too_long))
    assert error.code == "InvalidParameter" and "31 days" in error.message
    bad = dm.SenderStatisticsByTagNameAndBatchIDRequest(start_time="20/11/2026", end_time="2026-11-20")
    assert "yyyy-MM-dd" in tea_error(lambda: client.sender_statistics_by_tag_name_and_batch_id(bad)).message


def test_track_lists(numbers):
    client = tea_client(numbers)
    body = client.get_track_list(dm.GetTrackListRequest(start_time="2026-11-20", end_time="2026-11-21")).body
    assert (body.total, body.page_no) == (2, 1)
    day = body.data.stat[0]
    assert (day.create_time, day.total_number, day.rcpt_open_count, day.rcpt_unique_open_count) == (
        "2026-11-20", "8", "6", "6"
    )  # fmt: skip
    assert (day.rcpt_unique_open_rate, day.rcpt_click_rate) == ("75.00%", "25.00%")
    assert body.data.stat[1].rcpt_open_rate == "0%"  # nothing delivered: no division by zero
    by_tag = client.get_track_list_by_mail_from_and_tag_name(
        dm.GetTrackListByMailFromAndTagNameRequest(
            start_time="2026-11-20",
            end_time="2026-11-20",
            account_name="noreply@mail.example.com",
            tag_name="welcome",
        )
    ).body
    assert by_tag.track_list.stat[0].rcpt_unique_click_count == "2"
    week = dm.GetTrackListRequest(start_time="2026-11-01", end_time="2026-11-20")
    assert "7 days" in tea_error(lambda: client.get_track_list(week)).message
    no_sender = dm.GetTrackListRequest(start_time="2026-11-20", end_time="2026-11-20", tag_name="welcome")
    assert tea_error(lambda: client.get_track_list(no_sender)).code == "MissingParameter"
