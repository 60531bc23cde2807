"""The resolver module against a real DNS server on loopback: every outcome is told apart."""

from django.test import SimpleTestCase, override_settings

from sending.dns import Outcome, lookup, parse_nameserver
from tests.dnsserver import DnsServerMixin, unused_udp_port

LONG_TXT = "v=DKIM1; k=rsa; p=" + "A" * 392  # the size of a 2048-bit key


class ResolverTests(DnsServerMixin, SimpleTestCase):
    def test_txt_records_with_long_values_come_back_joined(self):
        self.dns.add("sel._domainkey.example.com", "TXT", LONG_TXT)
        self.dns.add("example.com", "TXT", "v=spf1 -all")
        self.assertEqual(lookup("sel._domainkey.example.com", "TXT").records, [LONG_TXT])
        self.assertEqual(lookup("Example.COM", "TXT").records, ["v=spf1 -all"])

    def test_mx_records(self):
        self.dns.add("example.com", "MX", "10 mx1.example.com")
        result = lookup("example.com", "MX")
        self.assertEqual((result.outcome, result.records), (Outcome.OK, ["10 mx1.example.com"]))

    def test_nxdomain_no_answer_and_servfail_are_distinct(self):
        self.dns.add("example.com", "MX", "10 mx1.example.com")
        self.dns.servfail("broken.example.com")
        self.assertEqual(lookup("missing.example.com", "TXT").outcome, Outcome.NXDOMAIN)
        self.assertEqual(lookup("example.com", "TXT").outcome, Outcome.NO_ANSWER)
        failed = lookup("broken.example.com", "TXT")
        self.assertEqual(failed.outcome, Outcome.TEMPORARY)
        self.assertFalse(failed.found)

    def test_a_silent_server_is_a_temporary_failure(self):
        with override_settings(DNS_NAMESERVERS=[f"127.0.0.1:{unused_udp_port()}"], DNS_TIMEOUT=1.0):
            self.assertEqual(lookup("example.com", "TXT").outcome, Outcome.TEMPORARY)

    def test_nameserver_syntax(self):
        self.assertEqual(parse_nameserver("127.0.0.1:5353"), ("127.0.0.1", 5353))
        self.assertEqual(parse_nameserver("[::1]:5353"), ("::1", 5353))
        self.assertEqual(parse_nameserver("::1"), ("::1", 53))
        self.assertEqual(parse_nameserver("9.9.9.9"), ("9.9.9.9", 53))
