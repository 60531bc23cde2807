"""`make bench`: how fast a list of addresses is validated without probes, against email-validator's syntax
check alone.

It validates --addresses addresses (a mix: most valid at 200 domains, typos, disposable and role
addresses, syntax errors) with one Validator, as a file or list validation does, so each domain's DNS is
asked once. The answers come from a small DNS server on loopback started here (MX for every name), so
the figure does not depend on the network. It prints addresses/s, the baseline and the ratio, and the
count of each status; it asserts nothing.
"""

import socket
import threading
import time

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from django.core.management.base import BaseCommand
from django.test import override_settings
from email_validator import EmailNotValidError, validate_email

from sending import validation
from sending.management.commands._bench import record


def _dns_server() -> tuple[socket.socket, int]:
    """A UDP server on 127.0.0.1 answering every MX query with `10 mx.<name>`: until the process ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            data, peer = sock.recvfrom(4096)
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            if question.rdtype == dns.rdatatype.MX:
                name = question.name.to_text()
                response.answer.append(
                    dns.rrset.from_text(
                        question.name, 300, dns.rdataclass.IN, dns.rdatatype.MX, f"10 mx.{name}"
                    )
                )
            sock.sendto(response.to_wire(), peer)

    threading.Thread(target=serve, daemon=True).start()
    return sock, sock.getsockname()[1]


def addresses(count: int) -> list[str]:
    mix = []
    for n in range(count):
        kind = n % 20
        if kind == 0:
            mix.append(f"user{n}@gmial.com")
        elif kind == 1:
            mix.append(f"user{n}@mailinator.com")
        elif kind == 2:
            mix.append(f"info@company{n % 200}.example")
        elif kind == 3:
            mix.append(f"user{n}@")
        else:
            mix.append(f"first.last{n}@company{n % 200}.example")
    return mix


class Command(BaseCommand):
    help = "Measure address validation without probes (addresses/s) against email-validator's syntax check."

    def add_arguments(self, parser):
        parser.add_argument("--addresses", type=int, default=10_000)

    def handle(self, *args, **options):
        count = options["addresses"]
        batch = addresses(count)
        started = time.perf_counter()
        for address in batch:
            try:  # noqa: SIM105 (contextlib.suppress would slow the baseline down)
                validate_email(address, check_deliverability=False)
            except EmailNotValidError:
                pass
        baseline = count / (time.perf_counter() - started)
        _sock, port = _dns_server()
        with override_settings(DNS_NAMESERVERS=[f"127.0.0.1:{port}"], DNS_TIMEOUT=2.0):
            validator = validation.Validator()
            counts: dict[str, int] = {}
            started = time.perf_counter()
            for address in batch:
                status = str(validator.validate(address).status)
                counts[status] = counts.get(status, 0) + 1
            seconds = time.perf_counter() - started
        rate = count / seconds
        self.stdout.write(f"Validation benchmark: {count} addresses, 200 domains, no probes")
        self.stdout.write(f"  validated in {seconds:.2f} s = {rate:,.0f} addresses/s")
        self.stdout.write(
            f"  email-validator's syntax check alone: {baseline:,.0f} addresses/s; "
            f"ratio {rate / baseline:.2f}"
        )
        self.stdout.write(f"  statuses: {dict(sorted(counts.items()))}")
        record("validation", rate, "addresses/s", baseline=baseline, baseline_name="email-validator syntax")
