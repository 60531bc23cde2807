"""`make bench`: a batch send end to end, against a baseline measured in the same run.

A list of N recipients (5 template variables each), an approved template, a batch sender with DKIM on, the
loopback sink as the receiving server. The clock starts when the job is confirmed ("Send") with real
django-q2 workers (`manage.py qcluster`) already running, and stops when the last message is delivered; the
fan-out's own time is printed too. The baselines: a plain smtplib client pushing N pre-built messages over
one connection to the same sink, and (after the run) the bare pipeline, the same messages through the
worker's own personalizing, render, DKIM and SMTP code in as many processes as the cluster has workers,
without database or queue. It prints figures and the ratios; it asserts nothing. Run it on an empty
database (make bench makes one).
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.audit import SYSTEM, Actor
from sending.management.commands._bench import (
    bare_pipeline,
    bench_sender,
    record,
    relay_cluster,
    smtp_baseline,
    workers,
)
from sending.models import BatchJob, Message, MessageState, Recipient
from sending.services import batch as batch_service
from sending.services import lists as list_service
from sending.services.senders import sender_address_create
from templates_app.services import template_create, version_approve, version_submit

HTML = (
    "<html><body><h1>Hello {UserName}</h1><p>Dear {NickName}, the {City} store has news for {Plan} members."
    "</p>\n" + "\n".join(f"<p>Paragraph {n}: new arrivals this week, code {{Code}}.</p>" for n in range(25))
    + "\n</body></html>"
)  # fmt: skip


class Command(BaseCommand):
    help = "Measure a batch send (list fan-out + delivery) end to end against a plain-SMTP baseline."

    def add_arguments(self, parser):
        parser.add_argument("--recipients", type=int, default=10_000)
        parser.add_argument("--timeout", type=int, default=900, help="Seconds to wait for the workers.")

    def handle(self, *args, **options):
        from tests.smtpsink import SmtpSink  # the same sink the tests use

        count = options["recipients"]
        if Message.objects.exists():
            raise CommandError("bench_batch needs an empty database (make bench creates one)")
        self.stdout.write(
            f"batch benchmark on {connection.vendor}: {count} recipients, 5 variables, {len(HTML):,} bytes "
            "of HTML, DKIM on"
        )
        job = self._setup(count)
        with SmtpSink() as sink:
            baseline = self._baseline(sink, job.sender.address, count)
            rate = self._run(sink, job, count, options["timeout"])
            bare = bare_pipeline(sink)
        self.stdout.write(
            f"bare pipeline (the worker's personalizing, render, DKIM and SMTP in {workers()} processes, no "
            f"database, no queue): {bare:,.0f} messages/s"
        )
        self.stdout.write(
            f"end to end: {rate:,.0f} messages/s; smtplib baseline: {baseline:,.0f} messages/s "
            f"(ratio {rate / baseline:.2f}); bare pipeline: ratio {rate / bare:.2f}"
        )
        record("batch", rate, "messages/s", baseline=bare, baseline_name="bare pipeline")

    def _setup(self, count: int) -> BatchJob:
        trigger = bench_sender("bench-batch@example.com", "bench.example")
        account = trigger.account
        account.max_recipients_per_list = count
        account.save()
        owner = account.memberships.get().user
        sender = sender_address_create(
            account=account, domain=trigger.domain, local_part="news", send_type="batch", actor=SYSTEM
        )
        template = template_create(
            account=account,
            name="news",
            subject="News for {UserName} in {City}",
            html_body=HTML,
            actor=SYSTEM,
        )
        version = version_submit(version=template.latest_version(), actor=SYSTEM)
        version_approve(version=version, actor=Actor(user=owner))
        template.refresh_from_db()
        recipient_list = list_service.list_create(account=account, name="bench", actor=SYSTEM)
        Recipient.objects.bulk_create(
            [
                Recipient(
                    recipient_list=recipient_list,
                    email=f"user{n}@dest.example",
                    email_key=f"user{n}@dest.example",
                    user_name=f"User {n}",
                    nick_name=f"U{n}",
                    custom={
                        "City": ["Hangzhou", "Beijing", "Shanghai"][n % 3],
                        "Plan": "gold",
                        "Code": f"C{n}",
                    },
                )
                for n in range(count)
            ],
            batch_size=1000,
        )
        job = BatchJob(
            account=account, name="bench", template=template, recipient_list=recipient_list, sender=sender
        )
        return batch_service.job_save(job=job, actor=SYSTEM)

    def _baseline(self, sink, sender_address: str, count: int) -> float:
        rate = smtp_baseline(sink, sender_address, HTML, count)
        self.stdout.write(f"baseline (smtplib, one connection, pre-built messages): {rate:,.0f} messages/s")
        return rate

    def _run(self, sink, job: BatchJob, count: int, timeout: int) -> float:
        with relay_cluster(sink):
            time.sleep(3)  # the cluster is up and polling, as in production when someone presses Send
            started = time.monotonic()
            batch_service.job_confirm(job=job, actor=SYSTEM)
            fanned = None
            while True:
                job.refresh_from_db()
                if fanned is None and job.fanout_done:
                    fanned = time.monotonic() - started
                done = Message.objects.filter(state=MessageState.DELIVERED).count()
                if done >= count:
                    break
                if time.monotonic() - started > timeout:
                    raise CommandError(f"only {done} of {count} delivered after {timeout}s")
                time.sleep(0.25)
            elapsed = time.monotonic() - started
        unique = len({m.rcpt_tos[0] for m in sink.messages})
        self.stdout.write(
            f"fan-out of {count} recipients done after {fanned or elapsed:.1f}s; all delivered after "
            f"{elapsed:.1f}s ({unique} distinct at the sink)"
        )
        return count / elapsed
