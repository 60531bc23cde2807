"""Client addresses: who is really calling, behind trusted proxies, and whether IP protection lets them in."""

import ipaddress
from functools import cache

from django.conf import settings
from django.db import connection

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(value: str) -> IPNetwork:
    """An address or CIDR network, normalized (host bits cleared); ValueError when it is neither."""
    network = ipaddress.ip_network(value.strip(), strict=False)
    if network.version == 6 and network.network_address.ipv4_mapped:
        mapped = network.network_address.ipv4_mapped
        network = ipaddress.ip_network(f"{mapped}/{max(0, network.prefixlen - 96)}", strict=False)
    return network


@cache
def _trusted(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(parse_network(p) for p in proxies)


def _in_any(ip: str, networks) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in networks)


def client_ip_from(peer: str | None, forwarded_for: str = "") -> str | None:
    """The client's address: the socket peer, unless the peer is a trusted proxy; then the right-most
    address of X-Forwarded-For that is not a trusted proxy itself (the left part is what the client said)."""
    trusted = _trusted(tuple(settings.TRUSTED_PROXIES))
    if not peer or not trusted or not _in_any(peer, trusted):
        return peer or None
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in_any(hop, trusted):
            return hop if _valid(hop) else peer
    return peer


def _valid(ip: str) -> bool:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return False
    return True


def client_ip(request) -> str | None:
    return client_ip_from(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def ip_allowed(account, ip: str | None) -> bool:
    """IP protection: an empty allow-list, or the switch off, lets everyone in; otherwise only listed
    addresses and networks.

    Asked on every API call, so it is one plain statement over IpFilter's table (the ORM spent many times
    the query's own time building it).
    """
    if not account.ip_protection:
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT network FROM accounts_ipfilter WHERE account_id = %s", [account.pk])
        networks = [parse_network(row[0]) for row in cursor.fetchall()]
    if not networks:
        return True
    return ip is not None and _in_any(ip, networks)
