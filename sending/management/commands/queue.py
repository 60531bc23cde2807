"""manage.py queue status | suspend | resume | bounce | retry [--provider P] [--domain D] [--egress IP]
[--account ID] [--batch ID] [--for 30m|2h|1d] [--reason TEXT] [--by KEY] [--yes] [--json]: see and steer the
delivery queue (sending.queue_control), as the staff Queue page does.

Every key given must match: `queue suspend --provider gmail --for 2h --reason "warming 203.0.113.5"` holds
all mail to Gmail and Google Workspace domains; `queue bounce --batch B123 --reason "wrong list"` fails a
batch send's waiting mail. Actions other than status ask for confirmation unless --yes.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.audit import Actor
from sending import queue_control as queue
from sending.queue_control import QueueError

ACTOR = Actor(name="manage.py queue")


class Command(BaseCommand):
    help = "Show the delivery queue, or suspend, resume, bounce or retry part of it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "suspend", "resume", "bounce", "retry"])
        parser.add_argument(
            "--provider", default="", help='A mailbox provider: gmail, microsoft, qq, "other:…".'
        )
        parser.add_argument("--domain", default="", help="A destination domain.")
        parser.add_argument("--egress", default="", help="An egress address (of the mail's last attempt).")
        parser.add_argument("--account", default="", help="An account's id.")
        parser.add_argument("--batch", default="", help="A batch send's id.")
        parser.add_argument("--for", dest="duration", default="", help="suspend: how long (30m, 2h, 1d).")
        parser.add_argument(
            "--reason", default="", help="suspend and bounce: why (the message log shows it)."
        )
        parser.add_argument("--by", default="provider", choices=list(queue.KEYS), help="status: count by.")
        parser.add_argument(
            "--receivers", action="store_true",
            help="resume: also end the receivers' suspensions of the provider (and egress address).",
        )  # fmt: skip
        parser.add_argument("--yes", action="store_true", help="Do it without asking.")
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, **options) -> None:
        try:
            selection = queue.Selection.of(**{key: options[key] for key in queue.KEYS})
            getattr(self, f"_{options['action']}")(selection, options)
        except QueueError as exc:
            raise CommandError(str(exc)) from exc

    def _confirm(self, question: str, options) -> None:
        if options["yes"]:
            return
        if not sys.stdin.isatty():
            raise CommandError(f"{question} Give --yes to do it without asking.")
        answer = input(f"{question} [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise CommandError("nothing done")

    def _print(self, options, data: dict, text: str) -> None:
        self.stdout.write(json.dumps(data, indent=2, default=str) if options["json"] else text)

    def _status(self, selection, options) -> None:
        rows = queue.status(selection, options["by"])
        total = queue.totals(selection)
        holds = queue.holds(selection.account)
        replies = queue.last_replies(selection)
        if options["json"]:
            self._print(options, {
                "by": options["by"], "total": total.as_dict(), "rows": [row.as_dict() for row in rows],
                "holds": [_hold(h) for h in holds],
                "last_replies": [{"at": a.at.isoformat(), "domain": a.message.rcpt_domain, "code": a.code,
                                  "egress": a.egress_ip, "text": a.text[:300]} for a in replies],
            }, "")  # fmt: skip
            return
        now = timezone.now()
        out = [f"{'':40} {'queued':>8} {'deferred':>8} {'held':>8} {'sending':>8}  oldest"]
        for row in [*rows, total]:
            label = "total" if row is total else row.label
            age = _age(now - row.oldest) if row.oldest else "-"
            counts = f"{row.queued:>8} {row.deferred:>8} {row.suspended:>8} {row.sending:>8}"
            out.append(f"{label[:40]:40} {counts}  {age}")
        out.append("")
        out.append("holds in force:" if holds else "no holds in force")
        for h in holds:
            keys = " ".join(f"{k}={v}" for k, v in h.keys().items())
            what = f"rate x{h.fraction:g}" if h.action == "lower" else "held"
            out.append(f"  {what} {keys} until {h.until:%Y-%m-%d %H:%M} UTC ({h.origin}: {h.reply[:120]})")
        if replies:
            out.append("")
            out.append("last replies:")
            for a in replies:
                out.append(
                    f"  {a.at:%Y-%m-%d %H:%M:%S} {a.message.rcpt_domain} {a.egress_ip or '-'} {a.text[:120]}"
                )
        self.stdout.write("\n".join(out))

    def _suspend(self, selection, options) -> None:
        duration = queue.parse_duration(options["duration"])
        keys = _keys(selection)
        self._confirm(f"Hold the mail of {keys} for {options['duration']}?", options)
        done = queue.suspend(selection, duration, options["reason"], ACTOR)
        assert done.hold is not None
        until = done.hold.until
        text = f"held {keys} until {until:%Y-%m-%d %H:%M} UTC ({done.count} messages waiting)"
        self._print(options, {"held": done.count, "until": until.isoformat()}, text)

    def _resume(self, selection, options) -> None:
        keys = _keys(selection)
        self._confirm(f"End the holds on {keys}?", options)
        done = queue.resume(selection, ACTOR, receivers=options["receivers"])
        ended = done.details["holds"]
        text = f"ended {ended} holds on {keys}; {done.count} messages due now"
        self._print(options, {"holds": ended, "messages": done.count}, text)

    def _bounce(self, selection, options) -> None:
        keys = _keys(selection)
        waiting = selection.messages().count()
        self._confirm(
            f"Fail {waiting} queued and deferred messages of {keys}? This cannot be undone.", options
        )
        done = queue.bounce(selection, options["reason"], ACTOR)
        text = f"bounced {done.count} messages of {keys}"
        if done.skipped:
            text += f"; {done.skipped} being sent now were left to their worker"
        self._print(options, {"bounced": done.count, "sending": done.skipped}, text)

    def _retry(self, selection, options) -> None:
        keys = _keys(selection)
        self._confirm(f"Try the deferred mail of {keys} now?", options)
        done = queue.retry(selection, ACTOR)
        self._print(options, {"messages": done.count}, f"{done.count} deferred messages of {keys} due now")


def _keys(selection) -> str:
    return " ".join(f"{k}={v}" for k, v in selection.named.items()) or "the whole queue"


def _hold(h) -> dict:
    return {"origin": h.origin, "action": h.action, "keys": h.keys(), "fraction": h.fraction,
            "since": h.since.isoformat(), "until": h.until.isoformat(), "why": h.reply, "rule": h.rule,
            "by": h.created_by}  # fmt: skip


def _age(delta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
