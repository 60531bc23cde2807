"""Which address mail leaves from, and whether the internet will like that address.

Staff register each host's sending addresses (`manage.py egress_ip`, or Django admin), shared or dedicated
to an account; an account groups its own into IP pools. A worker sends only from the addresses of its own
host (`EGRESS_HOST`). The route of a message (`route_of`, from its envelope): the call's IpPoolId, else the
pool of its sender's configuration set, else the account's default pool; with none of them, the account's
dedicated addresses that are in no pool, else the shared ones. Within the route, `plan` spreads a batch in
weighted round robin over the addresses with capacity left today (sending.warmup); what the pool cannot
take today goes to the shared addresses when the configuration set allows (IsPublicChannelBackoff), else
waits for the next day. A host without registered addresses sends as before, from whatever address the
system picks, greeting with SMTP_HELO_NAME.

`check()` looks at what receivers look at: forward-confirmed reverse DNS (the PTR name resolves back to the
address), whether the `SPF_INCLUDE` record covers the address (its ip4/ip6 mechanisms, one include deep),
and listings on the DNS blocklists of `EGRESS_DNSBL_ZONES`.
"""

import ipaddress
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.mailing import mail_people
from sending import dns, warmup
from sending.models import ConfigSet, EgressAddress, IpPool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    address: str
    helo: str

    def reaches(self, destination: str) -> bool:
        """Of the destination's address family (an IPv4 source cannot reach an IPv6 server)."""
        return ipaddress.ip_address(self.address).version == ipaddress.ip_address(destination).version


@dataclass(frozen=True)
class Route:
    """Where an account's message may leave from: a pool (None: the account's unpooled dedicated
    addresses, else the shared ones), and whether the shared addresses may carry what it cannot take."""

    account_id: int
    pool_id: int | None = None
    backoff: bool = False


def route_of(account_id: int, ip_pool_id: int | None, config_set_id: int | None) -> Route:
    """The call's pool over the configuration set's over the account's default pool."""
    backoff, pool_id = False, ip_pool_id
    if config_set_id is not None:
        found = ConfigSet.objects.filter(pk=config_set_id).values_list("ip_pool_id", "public_channel_backoff")
        for set_pool, set_backoff in found:
            pool_id, backoff = pool_id or set_pool, set_backoff
    if pool_id is None:
        default = IpPool.objects.filter(account_id=account_id, is_default=True)
        pool_id = default.values_list("pk", flat=True).first()
    return Route(account_id, pool_id, backoff)


@dataclass
class Part:
    """Messages to send through one session: from `source` (None: the system picks), with the warm-up
    capacity reserved for them (settled after the session)."""

    source: Source | None
    messages: list[Any] = field(default_factory=list)
    reservation: warmup.Reservation | None = None


def _host_entries() -> list[EgressAddress]:
    return list(EgressAddress.objects.filter(host=settings.EGRESS_HOST, bind_error="").order_by("address"))


def _source(entry: EgressAddress) -> Source:
    return Source(entry.address, entry.helo)


def plan(route: Route, esp: str, messages: Sequence[Any]) -> tuple[list[Part], list[Any], str]:
    """Split messages of one route to one provider into sessions, one per address, and the ones that
    must wait (with why): over today's warm-up caps, or their pool has no address on this host."""
    host = _host_entries()
    shared = [e for e in host if e.account_id is None]
    if route.pool_id is not None:
        entries = [e for e in host if e.pool_id == route.pool_id]
        if not entries:
            name = IpPool.objects.filter(pk=route.pool_id).values_list("name", flat=True).first()
            reason = f"IP pool {name} has no usable address on this host ({settings.EGRESS_HOST})"
            return [], list(messages), reason
    else:
        own = [e for e in host if e.account_id == route.account_id and e.pool_id is None]
        entries = own or shared
        if not entries:
            return [Part(None, list(messages))], [], ""  # none registered for it here: the system picks
    queue = list(messages)
    parts = _reserve(entries, esp, queue)
    if queue and route.pool_id is not None and route.backoff:
        parts += _reserve(shared, esp, queue) if shared else [Part(None, _take(queue, len(queue)))]
    reason = ""
    if queue:
        reason = (
            f"warm-up: today's caps at {esp} are reached; waiting until "
            f"{warmup.next_day_starts():%Y-%m-%d %H:%M} UTC"
        )
    return parts, queue, reason


def _take(queue: list[Any], count: int) -> list[Any]:
    taken = queue[:count]
    del queue[:count]
    return taken


def _reserve(entries: list[EgressAddress], esp: str, queue: list[Any]) -> list[Part]:
    """Parts for as much of the queue as the addresses can take today (taken off the queue)."""
    reservations, _left = warmup.reserve(entries, esp, len(queue))
    by_id = {e.pk: e for e in entries}
    return [Part(_source(by_id[r.address_id]), _take(queue, r.count), r) for r in reservations]


def bindable(address: str) -> str:
    """ "" when this machine can send from the address, else why not (it is not on an interface)."""
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


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
