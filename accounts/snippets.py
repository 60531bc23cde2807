"""Copyable code for the access-key pages: the official DirectMail SDKs pointed at this server."""

from urllib.parse import urlsplit

from django.conf import settings


def api_endpoint() -> tuple[str, str]:
    """(host[:port], protocol) the SDKs are configured with: the server's public address."""
    parts = urlsplit(settings.PUBLIC_BASE_URL)
    return parts.netloc, parts.scheme or "https"


def sdk_snippets(*, key_id: str, secret: str = "", sender: str = "") -> dict[str, str]:
    """Five lines per SDK that send one mail; the secret only when it is being shown anyway."""
    endpoint, protocol = api_endpoint()
    secret = secret or "<your AccessKey secret>"
    sender = sender or "noreply@mail.example.com"
    tea = f"""# pip install alibabacloud-dm20151123
from alibabacloud_dm20151123.client import Client
from alibabacloud_dm20151123 import models as dm
from alibabacloud_tea_openapi import models as om

client = Client(om.Config(access_key_id="{key_id}", access_key_secret="{secret}",
                          endpoint="{endpoint}", protocol="{protocol}"))
response = client.single_send_mail(dm.SingleSendMailRequest(
    account_name="{sender}", address_type=1, reply_to_address=False,
    to_address="someone@example.org", subject="Hello", html_body="<p>Hello from directmail</p>"))
print(response.body.env_id)
"""
    core = f"""# pip install aliyun-python-sdk-core
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

client = AcsClient("{key_id}", "{secret}", "cn-hangzhou")
request = CommonRequest(domain="{endpoint}", version="2015-11-23", action_name="SingleSendMail")
request.set_protocol_type("{protocol}")
request.set_method("POST")
for name, value in {{"AccountName": "{sender}", "AddressType": "1", "ReplyToAddress": "false",
                    "ToAddress": "someone@example.org", "Subject": "Hello", "TextBody": "Hello"}}.items():
    request.add_query_param(name, value)
print(client.do_action_with_exception(request))
"""
    return {"alibabacloud-dm20151123": tea, "aliyun-python-sdk-core": core}
