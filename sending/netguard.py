"""Outgoing connections to addresses users give (webhook endpoints, recipients' mail servers), kept away
from our own network.

A target is refused when its host is, or resolves to, anything but a public unicast address: loopback,
private, link-local (the cloud metadata address among them), carrier-grade NAT, unspecified, multicast,
reserved, IPv4-mapped or -translated IPv6 forms of those, and IPs written in any non-canonical form
(decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`). The check runs when an endpoint is
saved, when it is tested and at connect time; `post()` connects to the very address it checked (no second
lookup for a rebinding DNS to change) and never follows redirects. `WEBHOOK_ALLOW_PRIVATE` lifts the address
rule for on-premise installs (and the tests' loopback receiver); https is required unless `DEBUG` or
`WEBHOOK_ALLOW_HTTP`.

`fetch()` reads a file the same way (the API's attachments): each redirect is checked like the first URL,
and the body stops at a size limit.

Delivery in mx mode asks `deliverable_address` of every address a recipient domain's MX and A records give:
the same rule, lifted by `DELIVERY_ALLOW_PRIVATE` for receivers on an internal network.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from sending import dns

CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeTarget(ValueError):
    """A URL we will not call; the message says why, for people."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP to connect to


def _canonical_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP a host names literally; UnsafeTarget for the odd spellings browsers and libc also accept."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    try:
        packed = socket.inet_aton(bare)  # accepts 2130706433, 0x7f.1, 0177.0.0.1, 127.1 ...
    except OSError:
        return None
    raise UnsafeTarget(
        _("%(host)s is an IP address written as %(ip)s: write it in dotted decimal form.")
        % {"host": host, "ip": ipaddress.IPv4Address(packed)}
    )


def _public(ip) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in ipaddress.ip_network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _public(embedded)
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _allowed(ip) -> bool:
    return settings.WEBHOOK_ALLOW_PRIVATE or _public(ip)


def deliverable_address(address: str) -> bool:
    """A mail server address that delivery may connect to: public unicast, or anything with
    DELIVERY_ALLOW_PRIVATE."""
    if settings.DELIVERY_ALLOW_PRIVATE:
        return True
    try:
        return _public(ipaddress.ip_address(address))
    except ValueError:
        return False


def check_url(url: str) -> Target:
    """The target of `url` with its checked address, or UnsafeTarget."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(_("This is not a URL.")) from exc
    allow_http = settings.DEBUG or settings.WEBHOOK_ALLOW_HTTP
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_http):
        raise UnsafeTarget(_("The URL must start with https://."))
    if not parts.hostname or "@" in parts.netloc or "\\" in url:
        raise UnsafeTarget(_("The URL needs a host name, without a user name or password."))
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    literal = _canonical_ip(host)
    if literal is not None:
        addresses = [literal]
    else:
        addresses = []
        for rdtype in ("A", "AAAA"):
            found = dns.lookup(host, rdtype)
            if found.outcome == dns.Outcome.TEMPORARY:
                raise UnsafeTarget(_("%(host)s could not be looked up just now; try again.") % {"host": host})
            addresses += [ipaddress.ip_address(record) for record in found.records]
        if not addresses:
            raise UnsafeTarget(_("%(host)s has no address.") % {"host": host})
    for ip in addresses:
        if not _allowed(ip):
            raise UnsafeTarget(
                _("%(host)s is, or resolves to, %(ip)s: an internal address we do not send to.")
                % {"host": host, "ip": ip}
            )
    return Target(parts.scheme, host, port, path, str(addresses[0]))


class PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target

    def connect(self):
        self.sock = socket.create_connection((self.target.address, self.target.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self.target = target

    def connect(self):
        sock = socket.create_connection((self.target.address, self.target.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.target.host)


@dataclass(frozen=True)
class Response:
    status: int
    body: str  # the start of it


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0) -> Response:
    """POST to a checked URL at the address that was checked; redirects are answers, not followed.
    Raises UnsafeTarget, or OSError / http.client.HTTPException for network failures."""
    target = check_url(url)
    kind = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        return Response(response.status, response.read(4096).decode("utf-8", errors="replace"))
    finally:
        connection.close()


class FetchError(ValueError):
    """A file that could not be fetched; the message says why, for people."""


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str  # as the server declared it, without parameters ("" when it declared none)


class TooLarge(FetchError):
    """The file is larger than the caller allowed."""


MAX_REDIRECTS = 3


def fetch(url: str, *, max_bytes: int, timeout: float = 20.0) -> Fetched:
    """GET a checked URL from the address that was checked; a redirect is followed only to a URL that
    passes the same checks (at most MAX_REDIRECTS). Raises UnsafeTarget, or FetchError for an answer other
    than 200, a body over `max_bytes` or a network failure."""
    for _hop in range(MAX_REDIRECTS + 1):
        target = check_url(url)
        kind = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
        connection = kind(target, timeout)
        try:
            connection.request("GET", target.path, headers={"User-Agent": "directmail", "Accept": "*/*"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status != 200:
                raise FetchError(_("the server answered HTTP %(status)s") % {"status": response.status})
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(_("the file is larger than %(n)s bytes") % {"n": max_bytes})
            data = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise TooLarge(_("the file is larger than %(n)s bytes") % {"n": max_bytes})
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            return Fetched(data, content_type)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(_("it could not be fetched (%(error)s)") % {"error": exc}) from exc
        finally:
            connection.close()
    raise FetchError(_("it redirects more than %(n)s times") % {"n": MAX_REDIRECTS})
