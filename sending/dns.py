"""DNS lookups for domain verification and delivery, through one small resolver with distinct outcomes.

Nameservers come from settings.DNS_NAMESERVERS ("host:port", e.g. a test server on 127.0.0.1:5353), else
the system's resolver. A lookup never raises for DNS reasons: it returns a `Lookup` whose `outcome` tells a
missing name (NXDOMAIN) from a name without such records (NO_ANSWER) from a failure that may pass
(TEMPORARY: SERVFAIL, timeout, no nameserver answered). Callers must not treat TEMPORARY as "gone".
"""

from dataclasses import dataclass, field
from enum import StrEnum

import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.resolver
from django.conf import settings


class Outcome(StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    NO_ANSWER = "no_answer"
    TEMPORARY = "temporary"


@dataclass(frozen=True)
class Lookup:
    outcome: Outcome
    records: list[str] = field(default_factory=list)
    error: str = ""
    ttl: int = 0  # of the answer (seconds), for callers that cache it
    # The resolver vouched for it (the AD bit), and DNS_DNSSEC_VALIDATING says its word counts: DANE.
    authenticated: bool = False

    @property
    def found(self) -> bool:
        return self.outcome == Outcome.OK and bool(self.records)


def parse_nameserver(server: str) -> tuple[str, int]:
    """ "1.2.3.4", "1.2.3.4:5353", "::1" or "[::1]:5353" -> (host, port)."""
    server = server.strip()
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, 53


def _resolver() -> dns.resolver.Resolver:
    if not settings.DNS_NAMESERVERS:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        servers = [parse_nameserver(server) for server in settings.DNS_NAMESERVERS]
        resolver.nameservers = [host for host, _port in servers]
        resolver.nameserver_ports = {host: port for host, port in servers}
    resolver.lifetime = settings.DNS_TIMEOUT
    resolver.timeout = min(2.0, settings.DNS_TIMEOUT)
    # EDNS lets a 2048-bit DKIM key's TXT record come back over UDP without falling back to TCP.
    resolver.use_edns(0, 0, 1232)
    if settings.DNS_DNSSEC_VALIDATING:
        resolver.flags = dns.flags.RD | dns.flags.AD  # ask a validating resolver to say so (RFC 6840 5.7)
    return resolver


def lookup(name: str, rdtype: str) -> Lookup:
    """Records of `rdtype` at `name` as text: TXT strings joined, MX as "preference host"."""
    try:
        answer = _resolver().resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(Outcome.NXDOMAIN, error=f"{name} does not exist")
    except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.resolver.LifetimeTimeout) as exc:
        return Lookup(Outcome.TEMPORARY, error=f"DNS did not answer for {name}: {type(exc).__name__}")
    except dns.exception.DNSException as exc:
        return Lookup(Outcome.TEMPORARY, error=f"DNS error for {name}: {exc}")
    if answer.rrset is None:
        return Lookup(Outcome.NO_ANSWER, error=f"{name} has no {rdtype} record")
    authenticated = settings.DNS_DNSSEC_VALIDATING and bool(answer.response.flags & dns.flags.AD)
    records = [_as_text(rdata) for rdata in answer.rrset]
    return Lookup(Outcome.OK, records, ttl=answer.rrset.ttl, authenticated=authenticated)


def _as_text(rdata) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdata.rdtype == dns.rdatatype.MX:
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True)}"
    return rdata.to_text()
