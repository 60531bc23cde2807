"""Outgoing webhook requests never reach internal addresses: every address class, odd IP spellings, a host
name resolving to 127.0.0.1 through the test DNS server, https only in production, no redirects followed,
and the connection goes to the address that was checked."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from django.test import SimpleTestCase, override_settings

from sending.netguard import UnsafeTarget, check_url, post
from tests.dnsserver import DnsServerMixin

INTERNAL = [
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://[::1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://[fd00::1]/hook",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://[fe80::1]/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "https://[::ffff:7f00:1]/hook",
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "https://2130706433/hook",  # decimal 127.0.0.1
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
]


@override_settings(WEBHOOK_ALLOW_PRIVATE=False, WEBHOOK_ALLOW_HTTP=False, DEBUG=False)
class NetGuardTest(DnsServerMixin, SimpleTestCase):
    def test_internal_addresses_in_every_spelling_are_refused(self):
        for url in INTERNAL:
            with self.subTest(url=url), self.assertRaises(UnsafeTarget):
                check_url(url)

    def test_host_names_resolving_inward_are_refused(self):
        self.dns.add("hooks.evil.example", "A", "127.0.0.1")
        self.dns.add("mixed.example", "A", "93.184.216.34")
        self.dns.add("mixed.example", "AAAA", "::1")
        self.dns.add("metadata.example", "A", "169.254.169.254")
        for host in ("hooks.evil.example", "mixed.example", "metadata.example"):
            with self.subTest(host=host), self.assertRaisesMessage(UnsafeTarget, "internal address"):
                check_url(f"https://{host}/hook")
        with self.assertRaisesMessage(UnsafeTarget, "has no address"):
            check_url("https://nowhere.example/hook")

    def test_public_targets_pass_and_are_pinned_to_their_address(self):
        self.dns.add("hooks.example", "A", "93.184.216.34")
        target = check_url("https://hooks.example:8443/in?x=1")
        self.assertEqual(
            (target.host, target.port, target.path, target.address),
            ("hooks.example", 8443, "/in?x=1", "93.184.216.34"),
        )

    def test_only_https_user_info_and_junk_refused(self):
        for url, reason in (
            ("http://93.184.216.34/hook", "https://"),
            ("ftp://93.184.216.34/hook", "https://"),
            ("https://user:pw@93.184.216.34/hook", "without a user name"),
            ("https:///hook", "needs a host name"),
            ("https://93.184.216.34:99999/", "not a URL"),
        ):
            with self.subTest(url=url), self.assertRaisesMessage(UnsafeTarget, reason):
                check_url(url)


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.server.received.append((self.path, self.headers.get("Host"), self.rfile.read(length)))
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.end_headers()
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True)
class PostTest(DnsServerMixin, SimpleTestCase):
    def setUp(self):
        super().setUp()
        self.server = HTTPServer(("127.0.0.1", 0), _Receiver)
        self.server.received = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.shutdown)
        self.port = self.server.server_address[1]

    def test_post_reaches_the_checked_address_with_the_host_header_and_does_not_follow_redirects(self):
        self.dns.add("receiver.example", "A", "127.0.0.1")
        response = post(
            f"http://receiver.example:{self.port}/in", b'{"a": 1}', {"Content-Type": "application/json"}
        )
        self.assertEqual(response.status, 204)
        moved = post(f"http://receiver.example:{self.port}/moved", b"{}", {})
        self.assertEqual(moved.status, 302)  # an answer, not followed
        self.assertEqual(
            self.server.received,
            [
                ("/in", f"receiver.example:{self.port}", b'{"a": 1}'),
                ("/moved", f"receiver.example:{self.port}", b"{}"),
            ],
        )

    @override_settings(WEBHOOK_ALLOW_PRIVATE=False)
    def test_with_private_targets_off_the_loopback_receiver_is_never_called(self):
        with self.assertRaises(UnsafeTarget):
            post(f"http://127.0.0.1:{self.port}/in", b"{}", {})
        self.assertEqual(self.server.received, [])
