"""Whatever refuses a call, an SDK reads DirectMail's error: a body over the request limit, a body of
too many fields, an HtmlBody over DirectMail's 8 MB; never Django's HTML page."""

import http.client
import json
from urllib.parse import urlencode

import pytest
from alibabacloud_dm20151123 import models as dm
from Tea.exceptions import TeaException

from sending.models import Envelope
from tests.api.clients import signed_single_send, tea_client

pytestmark = pytest.mark.django_db(transaction=True)


def single_send(**fields) -> dm.SingleSendMailRequest:
    return dm.SingleSendMailRequest(
        **{
            "account_name": "noreply@mail.example.com", "address_type": 1, "reply_to_address": False,
            "to_address": "ann@example.org", "subject": "Big", **fields,
        }
    )  # fmt: skip


def test_a_request_over_the_limit_is_a_directmail_error_the_sdk_raises(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # the same path as 32 MB, with less to send
    with pytest.raises(TeaException) as caught:
        tea_client(api).single_send_mail(single_send(text_body="x" * (3 * 1024 * 1024)))
    assert caught.value.code == "InvalidBody.TooLarge"
    assert caught.value.data["statusCode"] == 413
    assert not Envelope.objects.exists()


def test_an_html_body_over_8_mb_is_refused_and_one_under_it_sent(api):
    with pytest.raises(TeaException) as caught:
        tea_client(api).single_send_mail(single_send(html_body="<p>" + "a" * (8 * 1024 * 1024) + "</p>"))
    assert caught.value.code == "InvalidBody"
    assert "HtmlBody" in caught.value.message
    large = single_send(html_body="<p>" + "b" * (7 * 1024 * 1024) + "</p>")
    body = tea_client(api).single_send_mail(large).body
    assert len(Envelope.objects.get(env_id=body.env_id).html_body) > 7 * 1024 * 1024


@pytest.mark.parametrize("format_", ["JSON", "XML"])
def test_a_body_of_too_many_fields_is_a_directmail_error(api, format_):
    params = signed_single_send(api["key"].key_id, api["secret"], "noreply@mail.example.com", "a@example.org")
    params.update({f"Filler{n}": "x" for n in range(1500)})
    host, port = api["endpoint"].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    # Format in the query: a body that cannot be read cannot say how it wants its answer.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    conn.request("POST", f"/?Format={format_}", urlencode(params), form)
    response = conn.getresponse()
    text = response.read().decode()
    assert response.status == 400
    if format_ == "JSON":
        assert response.getheader("Content-Type") == "application/json"
        assert json.loads(text)["Code"] == "InvalidParameter.Malformed"
    else:
        assert "<Code>InvalidParameter.Malformed</Code>" in text
