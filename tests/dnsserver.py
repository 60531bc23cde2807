"""A real DNS server on loopback for the tests, built on dnspython: UDP and TCP, records set per test.

    with DnsServer() as dns_server:               # listens on 127.0.0.1:<free port>
        dns_server.add("mail.example.com", "TXT", "v=spf1 include:spf.directmail.test -all")
        dns_server.publish_domain(domain)          # every record the wizard asks for
        dns_server.servfail("broken.example.com")  # SERVFAIL for every type at that name
        ...                                        # settings.DNS_NAMESERVERS points at it

A name with no records at all answers NXDOMAIN; a name with records of other types answers NOERROR with no
answer (NODATA), as real servers do.
"""

import socket
import socketserver
import struct
import threading
from collections import defaultdict

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from django.test import override_settings


class DnsServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.records: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.failing: set[str] = set()
        self.authenticated: set[str] = set()  # names answered with the AD bit (a validating resolver's)
        self.queries: list[tuple[str, str]] = []
        handler = self._handle

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                reply = handler(data, max_size=512)
                sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                length = struct.unpack("!H", self._read(2))[0]
                reply = handler(self._read(length), max_size=65535)
                self.request.sendall(struct.pack("!H", len(reply)) + reply)

            def _read(self, n):
                data = b""
                while len(data) < n:
                    chunk = self.request.recv(n - len(data))
                    if not chunk:
                        raise ConnectionError
                    data += chunk
                return data

        # UDP and TCP on one port number: take a free UDP port, and try again if its TCP twin is taken.
        for _attempt in range(50):
            self.udp = socketserver.ThreadingUDPServer((host, 0), Udp)
            self.port = self.udp.server_address[1]
            try:
                self.tcp = socketserver.ThreadingTCPServer((host, self.port), Tcp)
                break
            except OSError:
                self.udp.server_close()
        else:
            raise OSError("no port free for both UDP and TCP")
        self.address = f"{host}:{self.port}"
        self._override = override_settings(DNS_NAMESERVERS=[self.address], DNS_TIMEOUT=2.0)

    # --- what the tests set ---

    def add(self, name: str, rdtype: str, value: str) -> None:
        self.records[self._key(name)][rdtype.upper()].append(value)

    def set(self, name: str, rdtype: str, *values: str) -> None:
        self.records[self._key(name)][rdtype.upper()] = list(values)

    def remove(self, name: str, rdtype: str | None = None) -> None:
        if rdtype is None:
            self.records.pop(self._key(name), None)
        else:
            self.records[self._key(name)].pop(rdtype.upper(), None)

    def publish_domain(self, domain, *, skip: tuple[str, ...] = ()) -> None:
        """Publish every record the wizard shows for `domain` (except the kinds in `skip`)."""
        from sending import domain_records

        for spec in domain_records.records_to_publish(domain):
            if spec.kind not in skip:
                self.add(spec.name, spec.type, spec.value)

    def authenticate(self, name: str) -> None:
        """Answer for `name` with the AD bit set, as a validating resolver does for signed zones."""
        self.authenticated.add(self._key(name))

    def servfail(self, name: str) -> None:
        self.failing.add(self._key(name))

    def clear(self) -> None:
        self.records.clear()
        self.failing.clear()
        self.authenticated.clear()

    # --- serving ---

    @staticmethod
    def _key(name: str) -> str:
        return name.lower().rstrip(".") + "."

    def _handle(self, wire: bytes, max_size: int) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in self.authenticated:
            response.flags |= dns.flags.AD
        if name in self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.records or not any(self.records[name].values()):
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            values = self.records[name].get(rdtype, [])
            if values:
                rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)
                for value in values:
                    rrset.add(
                        dns.rdata.from_text(
                            dns.rdataclass.IN, question.rdtype, self._rdata_text(rdtype, value)
                        ),
                        300,
                    )
                response.answer.append(rrset)
        if query.edns >= 0:
            max_size = max(512, query.payload)
        return (
            response.to_wire(max_size=max_size)
            if len(response.to_wire()) <= max_size
            else self._truncated(query)
        )

    @staticmethod
    def _truncated(query) -> bytes:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.TC
        return response.to_wire()

    @staticmethod
    def _rdata_text(rdtype: str, value: str) -> str:
        if rdtype == "TXT":
            # Long values are split into 255-byte strings, as DNS providers publish them.
            chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
            return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)
        if rdtype in {"MX", "CNAME", "NS"} and not value.endswith("."):
            return value + "."
        return value

    # --- lifecycle ---

    def __enter__(self) -> "DnsServer":
        for server in (self.udp, self.tcp):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self._override.enable()
        return self

    def __exit__(self, *exc) -> None:
        self._override.disable()
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()


def unused_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DnsServerMixin:
    """One DnsServer for a whole test class (`self.dns`), emptied before each test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dns = DnsServer().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.dns.__exit__(None, None, None)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.dns.clear()
