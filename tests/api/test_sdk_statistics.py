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


def test_real_mail_is_counted_by_esp_and_the_esp_and_domain_filters_apply(api):
    """Mail through the API to Gmail and to a company domain: Esp splits them as DirectMail names ESPs,
    Domain keeps the sending domain's mail; pools and configuration sets do not exist yet."""
    client = tea_client(api)
    client.single_send_mail(
        dm.SingleSendMailRequest(
            account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
            to_address="ann@gmail.com,bob@googlemail.com,cai@example.net", subject="Hi", text_body="Hello",
        )
    )  # fmt: skip
    today = api["account"].today().isoformat()

    def requests(**fields) -> str:
        request = dm.SenderStatisticsByTagNameAndBatchIDRequest(start_time=today, end_time=today, **fields)
        return client.sender_statistics_by_tag_name_and_batch_id(request).body.data.stat[0].request_count

    assert requests() == "3"
    assert (
        requests(esp="gmail.com") == "2"
        and requests(esp="others") == "1"
        and requests(esp="icloud.com") == "0"
    )
    assert requests(domain="mail.example.com") == "3"
    assert tea_error(lambda: requests(esp="qq.com")).code == "InvalidParameter"
    assert tea_error(lambda: requests(domain="not-ours.example")).code == "InvalidDomain.NotFound"
    assert (
        tea_error(lambda: requests(dedicated_ip_pool_id="pool-1")).code == "InvalidDedicatedIpPoolId.NotFound"
    )
    track = dm.GetTrackListRequest(start_time=today, end_time=today, esp="gmail.com")
    assert client.get_track_list(track).body.data.stat[0].total_number == "2"


def test_track_list_pages_by_offset_and_allows_15_days_by_sender(numbers):
    client = tea_client(numbers)
    first = client.get_track_list(
        dm.GetTrackListRequest(start_time="2026-11-18", end_time="2026-11-22", page_size=2, offset=0)
    ).body
    assert [s.create_time for s in first.data.stat] == ["2026-11-18", "2026-11-19"]
    assert first.offset_create_time == "2026-11-19"
    rest = client.get_track_list(
        dm.GetTrackListRequest(
            start_time="2026-11-18", end_time="2026-11-22", page_size=2, offset=1,
            offset_create_time=first.offset_create_time,
        )
    ).body  # fmt: skip
    assert [s.create_time for s in rest.data.stat] == ["2026-11-20", "2026-11-21"]
    assert rest.data.stat[0].rcpt_open_count == "6"
    wide = dm.GetTrackListByMailFromAndTagNameRequest(
        start_time="2026-11-07", end_time="2026-11-22", account_name="noreply@mail.example.com"
    )
    assert client.get_track_list_by_mail_from_and_tag_name(wide).body.total == 16
    too_wide = dm.GetTrackListRequest(start_time="2026-11-07", end_time="2026-11-22")
    assert tea_error(lambda: client.get_track_list(too_wide)).code == "InvalidParameter"
