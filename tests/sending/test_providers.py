"""Mailbox providers by MX host names, against the test DNS server: company domains on Google Workspace
or Microsoft 365 are Gmail's or Microsoft's; other domains are their MX's registered domain."""

import pytest

from sending import providers
from sending.models import DomainProvider
from tests.dnsserver import DnsServer

pytestmark = pytest.mark.django_db

MX = {
    "gmail.com": "5 gmail-smtp-in.l.google.com",
    "acme.example": "1 aspmx.l.google.com",
    "contoso.example": "0 contoso-example.mail.protection.outlook.com",
    "hotmail.com": "2 hotmail-com.olc.protection.outlook.com",
    "yahoo.com": "1 mta5.am0.yahoodns.net",
    "aol.com": "1 mx-aol.mail.gm0.yahoodns.net",
    "icloud.com": "10 mx01.mail.icloud.com",
    "qq.com": "10 mx3.qq.com",
    "tencent-customer.example": "5 mxbiz1.qq.com",
    "163.com": "10 163mx01.mxmail.netease.com",
    "corp-on-qiye163.example": "5 qiye163mx01.mxmail.netease.com",
    "sina.com": "10 freemx1.sinamail.sina.com.cn",
    "sohu.com": "5 mx.sohu.com",
    "aliyun-customer.example": "5 mxw.mxhichina.com",
    "mail.ru": "10 mxs.mail.ru",
    "yandex.ru": "10 mx.yandex.ru",
    "web.de": "100 mx-ha03.web.de",
    "comcast.net": "5 mx1a1.comcast.net",
    "small.example": "10 mail.hoster.example.com.cn",
}
EXPECTED = {
    "gmail.com": "gmail", "acme.example": "gmail", "contoso.example": "microsoft", "hotmail.com": "microsoft",
    "yahoo.com": "yahoo", "aol.com": "yahoo", "icloud.com": "apple", "qq.com": "qq",
    "tencent-customer.example": "qq", "163.com": "netease", "corp-on-qiye163.example": "netease",
    "sina.com": "sina", "sohu.com": "sohu", "aliyun-customer.example": "aliyun", "mail.ru": "mailru",
    "yandex.ru": "yandex", "web.de": "gmx", "comcast.net": "comcast", "small.example": "other:example.com.cn",
}  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_cache():
    providers._cache.clear()
    yield
    providers._cache.clear()


def test_providers_by_their_mx_hosts():
    with DnsServer() as dns:
        for domain, mx in MX.items():
            dns.add(domain, "MX", mx)
        assert {domain: providers.provider_of(domain) for domain in MX} == EXPECTED
    # What was found is kept for the queue page and queue actions, without asking DNS again.
    assert dict(DomainProvider.objects.values_list("domain", "provider")) == EXPECTED
    assert providers.known("acme.example") == "gmail" and providers.known("never.example") == ""
    assert DomainProvider.objects.get(domain="acme.example").mx_host == "aspmx.l.google.com"
    assert sorted(providers.domains_of("gmail")) == ["acme.example", "gmail.com"]


def test_the_best_mx_decides_and_answers_are_cached_for_their_ttl():
    with DnsServer() as dns:
        dns.add("mixed.example", "MX", "20 backup.hoster.example")
        dns.add("mixed.example", "MX", "10 alt1.aspmx.l.google.com")
        assert providers.provider_of("mixed.example") == "gmail"
        asked = len(dns.queries)
        dns.set("mixed.example", "MX", "10 mx1.qq.com")
        assert providers.provider_of("mixed.example") == "gmail"  # within the TTL (300 s)
        assert len(dns.queries) == asked


def test_a_domain_without_mx_is_its_own_provider_and_a_dns_failure_is_not_cached():
    with DnsServer() as dns:
        dns.add("nomx.example.org", "A", "192.0.2.1")
        assert providers.provider_of("nomx.example.org") == "other:example.org"
        dns.servfail("flaky.example")
        assert providers.provider_of("flaky.example") == "other:flaky.example"
        assert "flaky.example" not in providers._cache
    assert providers.label_of("gmail") == "Gmail / Google Workspace"
    assert providers.label_of("other:example.org") == "example.org"
