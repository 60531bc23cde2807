"""Which mailbox provider receives a destination domain's mail, from its MX hosts (the first step of
shaping by provider: a company domain on Google Workspace or Microsoft 365 is Gmail's or Microsoft's
mail, whatever its name).

A provider is known by the names of its MX hosts (PROVIDERS: suffixes of the host names, from the MX
records the providers publish for their own and their customers' domains); any other domain's provider
is "other:" and the registered domain of its best MX host, so the domains one hosting company serves
share their limits. MX answers are cached for their TTL (at least MIN_TTL, at most MAX_TTL), per process;
what was found is kept in DomainProvider too, so the queue page and queue actions can group and select
mail by provider without asking DNS.
"""

import contextlib
import time
from dataclasses import dataclass

from django.db import DatabaseError
from django.utils import timezone

from sending import dns
from sending.models import DomainProvider

MIN_TTL, MAX_TTL = 60, 3600


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    mx_suffixes: tuple[str, ...]


# The MX host names each provider answers with (checked 2026 against their published MX records).
PROVIDERS: tuple[Provider, ...] = (
    Provider("gmail", "Gmail / Google Workspace", ("google.com", "googlemail.com")),
    Provider("microsoft", "Microsoft (Outlook.com, Hotmail, Microsoft 365)",
             ("outlook.com", "hotmail.com", "outlook.cn")),  # *.mail.protection.outlook.com, olc.protection
    Provider("yahoo", "Yahoo / AOL", ("yahoodns.net", "yahoo.com", "aol.com")),
    Provider("apple", "Apple iCloud", ("icloud.com", "me.com")),
    Provider("qq", "QQ Mail / Tencent Exmail", ("qq.com",)),  # mx1.qq.com, mxbiz1.qq.com (Exmail)
    Provider("netease", "NetEase (163, 126, yeah.net, qiye.163.com)", ("netease.com", "163.com", "126.com",
                                                                          "yeah.net")),
    Provider("sina", "Sina Mail", ("sina.com.cn", "sina.com", "sina.net")),
    Provider("sohu", "Sohu Mail", ("sohu.com", "sohu.net")),
    Provider("aliyun", "Aliyun Mail", ("aliyun.com", "mxhichina.com")),  # mxhichina: Aliyun enterprise mail
    Provider("mailru", "Mail.ru", ("mail.ru",)),
    Provider("yandex", "Yandex", ("yandex.net", "yandex.ru")),
    Provider("gmx", "GMX / WEB.DE", ("gmx.net", "web.de", "gmx.com")),
    Provider("comcast", "Comcast", ("comcast.net",)),
)  # fmt: skip

# Second-level labels under which names are registered one level deeper (mx.example.com.cn).
_SECOND_LEVEL = frozenset({"com", "net", "org", "edu", "gov", "co", "ac", "or", "ne", "go"})

_cache: dict[str, tuple[str, float]] = {}


def registered_domain(host: str) -> str:
    """The name a host is registered under: its last two labels, three under a country's second level
    (example.com.cn, example.co.uk)."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def provider_of_mx(host: str) -> str:
    """The provider of one MX host name: a PROVIDERS name, or "other:" and its registered domain."""
    host = host.lower().rstrip(".")
    for provider in PROVIDERS:
        if any(host == suffix or host.endswith("." + suffix) for suffix in provider.mx_suffixes):
            return provider.name
    return "other:" + registered_domain(host)


def provider_of(domain: str) -> str:
    """The provider of a destination domain, from its best MX host (the domain itself when it has no MX,
    as delivery then uses its A record); cached for the answer's TTL."""
    domain = domain.lower().rstrip(".")
    now = time.monotonic()
    cached = _cache.get(domain)
    if cached and cached[1] > now:
        return cached[0]
    answer = dns.lookup(domain, "MX")
    hosts = []
    for record in answer.records:
        preference, _space, host = record.partition(" ")
        if host and host != ".":
            hosts.append((int(preference) if preference.isdigit() else 0, host))
    best = min(hosts)[1].lower().rstrip(".") if hosts else domain
    name = provider_of_mx(best)
    if answer.outcome != dns.Outcome.TEMPORARY:  # a DNS failure is asked again next time
        ttl = min(MAX_TTL, max(MIN_TTL, answer.ttl))
        _cache[domain] = (name, now + ttl)
        _remember(domain, name, best)
    return name


def _remember(domain: str, name: str, mx_host: str) -> None:
    found = {"provider": name, "mx_host": mx_host[:255], "checked_at": timezone.now()}
    with contextlib.suppress(DatabaseError):  # a convenience for the queue page: delivery goes on without
        DomainProvider.objects.update_or_create(domain=domain[:253], defaults=found)


def known(domain: str) -> str:
    """The provider last found for a domain ("" if never looked up), without asking DNS."""
    found = DomainProvider.objects.filter(domain=domain.lower()).values_list("provider", flat=True)
    return found.first() or ""


def domains_of(provider: str) -> list[str]:
    """The destination domains last found to be served by `provider`."""
    return list(DomainProvider.objects.filter(provider=provider).values_list("domain", flat=True))


def is_named(name: str) -> bool:
    """A provider of PROVIDERS (not "other:")."""
    return any(provider.name == name for provider in PROVIDERS)


def label_of(name: str) -> str:
    for provider in PROVIDERS:
        if provider.name == name:
            return provider.label
    return name.removeprefix("other:")
