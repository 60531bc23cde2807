"""Which address mail leaves from, and whether the internet will like that address.

Staff register each host's sending addresses (`manage.py egress_ip`, or Django admin). A worker sends only
from the addresses of its own host (`EGRESS_HOST`): an account's dedicated addresses for its mail when it
has some there, else the shared ones (no account), taken in turn. A host without registered addresses
sends as before, from whatever address the system picks, greeting with SMTP_HELO_NAME.

`check()` looks at what receivers look at: forward-confirmed reverse DNS (the PTR name resolves back to the
address), whether the `SPF_INCLUDE` record covers the address (its ip4/ip6 mechanisms, one include deep),
and listings on the DNS blocklists of `EGRESS_DNSBL_ZONES`.
"""

import ipaddress
import itertools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from accounts.mailing import mail_people
from sending import dns
from sending.models import EgressAddress

log = logging.getLogger(__name__)

_turn = itertools.count()  # round robin among the candidates, per process


@dataclass(frozen=True)
class Source:
    address: str
    helo: str


def candidates(account_id: int) -> list[Source]:
    """This host's addresses for the account's mail: its dedicated ones if it has any here, else the
    shared ones; [] when the host has none registered (the system picks)."""
    rows = list(
        EgressAddress.objects.filter(host=settings.EGRESS_HOST, bind_error="")
        .filter(Q(account_id=account_id) | Q(account__isnull=True))
        .order_by("address")
        .values_list("address", "helo", "account_id")
    )
    dedicated = [Source(a, h) for a, h, owner in rows if owner == account_id]
    shared = [Source(a, h) for a, h, owner in rows if owner is None]
    return dedicated or shared


def pick(account_id: int, destination: str) -> list[Source] | None:
    """The candidates in the order to try them, starting with this turn's, of the destination's address
    family (an IPv4 source cannot reach an IPv6 server); None when this host has none for the account
    (the system picks the source)."""
    found = candidates(account_id)
    if not found:
        return None
    family = ipaddress.ip_address(destination).version
    usable = [s for s in found if ipaddress.ip_address(s.address).version == family]
    if not usable:
        return []
    start = next(_turn) % len(usable)
    return usable[start:] + usable[:start]


def bind_failed(source: Source, error: str) -> None:
    """An address that cannot be bound is not on this host: an operator error, kept on the address (and
    out of the rotation) until the check sees it bind again."""
    log.error("cannot send from %s: %s", source.address, error)
    EgressAddress.objects.filter(address=source.address).update(bind_error=error[:255])


@dataclass(frozen=True)
class Check:
    ptr: str
    fcrdns: bool
    spf_covered: bool
    listings: list[str]


def _reverse_name(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return ip.reverse_pointer


def _dnsbl_name(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, zone: str) -> str:
    """The blocklist query name: the address's labels reversed (nibbles for IPv6), under the zone."""
    reversed_labels = ip.reverse_pointer.rsplit(".", 2)[0]  # without in-addr.arpa / ip6.arpa
    return f"{reversed_labels}.{zone}"


def _spf_networks(name: str, depth: int = 0) -> list:
    """The ip4/ip6 networks of the SPF record at `name`, following include: one level."""
    networks = []
    for record in dns.lookup(name, "TXT").records:
        if not record.lower().startswith("v=spf1"):
            continue
        for term in record.split()[1:]:
            mechanism, _colon, value = term.lstrip("+").partition(":")
            try:
                if mechanism.lower() in ("ip4", "ip6"):
                    networks.append(ipaddress.ip_network(value, strict=False))
                elif mechanism.lower() == "include" and depth < 1:
                    networks += _spf_networks(value, depth + 1)
            except ValueError:
                continue
    return networks


def recheck_all() -> int:
    """The daily check of every address; a blocklist listing that is new is mailed to staff (and shown
    on the owning account's Overview) — never silent."""
    checked = 0
    for entry in EgressAddress.objects.select_related("account"):
        before = set(entry.listings)
        result = check(entry)
        checked += 1
        if set(result.listings) - before:
            _tell_staff(entry, result)
    return checked


def _tell_staff(entry: EgressAddress, result: Check) -> None:
    staff = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if staff:
        mail_people("egress_listed", {"entry": entry, "listings": result.listings}, staff)
    log.warning("sending address %s is listed on %s", entry.address, ", ".join(result.listings))


def check(entry: EgressAddress) -> Check:
    """Look the address up as receivers do, store what was found, and return it."""
    ip = ipaddress.ip_address(entry.address)
    ptr = next(iter(dns.lookup(_reverse_name(ip), "PTR").records), "").rstrip(".").lower()
    forward = []
    if ptr:
        forward = dns.lookup(ptr, "A" if ip.version == 4 else "AAAA").records
    fcrdns = bool(ptr) and any(ipaddress.ip_address(a) == ip for a in forward)
    spf_covered = any(ip in net for net in _spf_networks(settings.SPF_INCLUDE) if net.version == ip.version)
    listings = [zone for zone in settings.EGRESS_DNSBL_ZONES if dns.lookup(_dnsbl_name(ip, zone), "A").found]
    EgressAddress.objects.filter(pk=entry.pk).update(
        checked_at=timezone.now(), ptr=ptr, fcrdns=fcrdns, spf_covered=spf_covered, listings=listings
    )
    return Check(ptr, fcrdns, spf_covered, listings)
