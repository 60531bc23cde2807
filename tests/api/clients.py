"""Clients of the official DirectMail SDKs pointed at the test server (see the `api` fixture)."""

import http.client
import json
import os
from datetime import UTC, datetime
from urllib.parse import urlencode

from alibabacloud_dm20151123.client import Client
from alibabacloud_tea_openapi import models as om
from aliyunsdkcore.client import AcsClient

from sending.api.signatures import rpc_signature


def tea_client(api, *, secret=None, algorithm=None, key_id=None) -> Client:
    config = om.Config(
        access_key_id=key_id or api["key"].key_id,
        access_key_secret=secret or api["secret"],
        endpoint=api["endpoint"],
        protocol="http",
    )
    if algorithm:
        config.signature_algorithm = algorithm
    return Client(config)


def core_client(api) -> AcsClient:
    return AcsClient(api["key"].key_id, api["secret"], "cn-hangzhou")


def signed_single_send(
    key_id: str, secret: str, sender: str, to: str, nonce: str | None = None, method: str = "POST"
) -> dict:
    """The form fields of a SingleSendMail POST signed as the classic SDK signs it (HMAC-SHA1), for clients
    that must choose their own connection (many at once, or from a given source address)."""
    params = {
        "Action": "SingleSendMail", "Format": "JSON", "Version": "2015-11-23", "AccessKeyId": key_id,
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
        "SignatureNonce": nonce or os.urandom(16).hex(),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "AccountName": sender, "AddressType": "1", "ReplyToAddress": "false", "ToAddress": to,
        "Subject": "Your receipt", "HtmlBody": "<p>Thank you for your order.</p>",
    }  # fmt: skip
    params["Signature"] = rpc_signature(method, params, secret)
    return params


def post_form(conn: http.client.HTTPConnection, params: dict, headers: dict | None = None) -> dict:
    """POST `params` to the API at `/` over `conn`; the JSON answer with its HTTP status as "status"."""
    conn.request(
        "POST",
        "/",
        urlencode(params),
        {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )
    response = conn.getresponse()
    return {"status": response.status, **json.loads(response.read())}
