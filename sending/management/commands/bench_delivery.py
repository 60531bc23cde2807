"""`make bench`: how fast the delivery engine moves mail, against a baseline measured in the same run.

1. Baselines: a plain smtplib client pushes N pre-built messages over one connection to an aiosmtpd sink;
   and, after the run, the bare pipeline: the same messages through the worker's own render, DKIM and SMTP
   code in as many processes as the cluster has workers, without database or queue (the target's measure).
2. The engine: N messages (one recipient each, ~3 KB of HTML, DKIM on) are accepted through the enqueue
   service, then real django-q2 workers (`manage.py qcluster`) deliver them to the same sink through the
   relay transport; the clock runs from the cluster's start until every message is delivered.
3. Per-stage cost on a sample: render (headers and parts), MIME serialization, DKIM, SMTP.

It prints figures and ratios; it asserts nothing. Run it on an empty database (make bench makes one).
"""

import smtplib
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from sending.delivery import mime
from sending.delivery import signing as dkim_signing
from sending.delivery.worker import return_path
from sending.management.commands._bench import (
    bare_pipeline,
    bench_sender,
    record,
    relay_cluster,
    smtp_baseline,
    workers,
)
from sending.models import Message, MessageState
from sending.services.messages import Content, Mail, message_enqueue

PARAGRAPH = (
    "<p>Paragraph {n}: your order has shipped and is on its way. Track it any time in your account.</p>"
)
HTML = "<html><body>\n" + "\n".join(PARAGRAPH.format(n=n) for n in range(30)) + "\n</body></html>"  # ~3 KB


class Command(BaseCommand):
    help = "Measure end-to-end delivery throughput against a plain-SMTP baseline (prints results)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=10_000)
        parser.add_argument("--sample", type=int, default=300, help="Messages timed stage by stage.")
        parser.add_argument("--timeout", type=int, default=900, help="Seconds to wait for the workers.")

    def handle(self, *args, **options):
        from tests.smtpsink import SmtpSink  # the same sink the tests use

        count = options["messages"]
        if Message.objects.exists():
            raise CommandError("bench_delivery needs an empty database (make bench creates one)")
        vendor = connection.vendor
        self.stdout.write(
            f"delivery benchmark on {vendor}: {count} messages of {len(HTML):,} bytes of HTML, DKIM on"
        )

        with SmtpSink() as sink:
            sender = self._setup()
            baseline = self._baseline(sink, sender, count)
            stages = self._stages(sink, sender, options["sample"])
            rate = self._engine(sink, sender, count, options["timeout"])
            bare = self._bare(sink)
        self.stdout.write(
            f"end to end: {rate:,.0f} messages/s; smtplib baseline: {baseline:,.0f} messages/s "
            f"(ratio {rate / baseline:.2f}); bare pipeline: {bare:,.0f} messages/s (ratio {rate / bare:.2f})"
        )
        record("delivery", rate, "messages/s", baseline=bare, baseline_name="bare pipeline")
        record("dkim", stages["dkim"], "ms")

    def _setup(self):
        return bench_sender("bench@example.com", "bench.example")

    def _baseline(self, sink, sender, count: int) -> float:
        rate = smtp_baseline(sink, sender.address, HTML, count)
        self.stdout.write(f"baseline (smtplib, one connection, pre-built messages): {rate:,.0f} messages/s")
        return rate

    def _stages(self, sink, sender, sample: int) -> dict[str, float]:
        """Milliseconds per message of each stage, on a sample."""
        result = message_enqueue(
            Mail(
                account=sender.account,
                sender=sender,
                to=[f"stage{n}@dest.example" for n in range(min(sample, 100))],
                content=Content(subject="Your order has shipped", html_body=HTML),
            )
        )
        messages = list(
            Message.objects.filter(envelope__env_id=result.env_id).select_related("envelope__sender__domain")
        )
        key = sender.domain.active_dkim_key()
        totals = {"body": 0.0, "headers": 0.0, "dkim": 0.0, "smtp": 0.0}
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            for message in messages:
                t0 = time.perf_counter()
                body = mime.encode_body(message.envelope)
                t1 = time.perf_counter()
                raw = mime.build(message.envelope, message, body=body)
                t2 = time.perf_counter()
                signed = dkim_signing.sign(raw, key, sender.domain.name)
                t3 = time.perf_counter()
                smtp.sendmail(return_path(message), [message.rcpt], signed)
                t4 = time.perf_counter()
                for name, spent in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                    totals[name] += spent
        Message.objects.filter(envelope__env_id=result.env_id).delete()
        sink.messages.clear()
        per_message = {name: 1000 * spent / len(messages) for name, spent in totals.items()}
        self.stdout.write(
            "per message: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_message.items())
        )
        return per_message

    def _bare(self, sink) -> float:
        """The same messages through the worker's render and SMTP code alone (no database, no queue)."""
        rate = bare_pipeline(sink)
        self.stdout.write(
            f"bare pipeline (the worker's render, DKIM and SMTP in {workers()} processes, no database, no "
            f"queue): {rate:,.0f} messages/s"
        )
        return rate

    def _engine(self, sink, sender, count: int, timeout: int) -> float:
        started = time.monotonic()
        batch = 100
        for start in range(0, count, batch):
            for n in range(start, min(count, start + batch)):
                message_enqueue(
                    Mail(
                        account=sender.account,
                        sender=sender,
                        to=f"user{n}@dest.example",
                        content=Content(subject="Your order has shipped", html_body=HTML),
                    )
                )
        accept_rate = count / (time.monotonic() - started)
        self.stdout.write(f"accepted through the enqueue service: {accept_rate:,.0f} messages/s")

        started = time.monotonic()
        with relay_cluster(sink):
            # The enqueue above started delivery tasks; the cluster picks them up and drains the queue.
            while True:
                done = Message.objects.filter(state=MessageState.DELIVERED).count()
                if done >= count:
                    break
                if time.monotonic() - started > timeout:
                    raise CommandError(f"only {done} of {count} delivered after {timeout}s")
                time.sleep(0.25)
            elapsed = time.monotonic() - started
        unique = len({m.rcpt_tos[0] for m in sink.messages})
        self.stdout.write(f"delivered {count} in {elapsed:.1f}s ({unique} distinct at the sink)")
        return count / elapsed
