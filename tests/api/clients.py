"""Clients of the official DirectMail SDKs pointed at the test server (see the `api` fixture)."""

from alibabacloud_dm20151123.client import Client
from alibabacloud_tea_openapi import models as om
from aliyunsdkcore.client import AcsClient


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
