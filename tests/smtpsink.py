"""An aiosmtpd server on loopback that plays the receiving MX (or the relay) in delivery tests.

with SmtpSink() as sink:              # 127.0.0.1:<free port>
    sink.script("bob@dest.test", "451 4.3.0 Try again later", "250 OK")   # replies to RCPT, in turn
    ...
    sink.messages                      # what was accepted: mail_from, rcpt_tos, data (bytes)
"""

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: tuple = ()
    at: float = field(default_factory=time.monotonic)  # when it was stored


@dataclass
class _Handler:
    messages: list[Received] = field(default_factory=list)
    rcpt_scripts: dict[str, list[str]] = field(default_factory=dict)
    data_scripts: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Seconds to wait between storing a message and answering 250 (to kill a client in that window).
    reply_delay: float = 0.0
    stored: threading.Event = field(default_factory=threading.Event)
    greetings: list[str] = field(default_factory=list)  # the EHLO names clients gave, in order
    refuse_all: str = ""  # a reply for every RCPT while set (a receiver that is down: "451 ...")
    unknown_reply: str = ""  # the reply to a RCPT without a script, when set (a server that knows its users)
    rcpts_seen: list[str] = field(default_factory=list)  # every RCPT asked, in order
    open_sessions: set = field(default_factory=set)  # sessions greeted and not quit yet
    peak_sessions: int = 0  # the most open at once

    def _next(self, scripts: dict[str, list[str]], address: str) -> str | None:
        with self.lock:
            script = scripts.get(address.lower())
            if not script:
                return None
            return script.pop(0) if len(script) > 1 else script[0]

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.greetings.append(hostname)
            self.open_sessions.add(id(session))
            self.peak_sessions = max(self.peak_sessions, len(self.open_sessions))
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.open_sessions.discard(id(session))
        return "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpts_seen.append(address)
        if self.refuse_all:
            return self.refuse_all
        reply = self._next(self.rcpt_scripts, address)
        if reply is None and self.unknown_reply:
            return self.unknown_reply
        if reply and not reply.startswith("250"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            reply = self._next(self.data_scripts, rcpt)
            if reply and not reply.startswith("250"):
                return reply
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, session.peer)
            )
        self.stored.set()
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 2.0.0 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", smtputf8: bool = True, tls_context=None):
        """`tls_context`: an ssl.SSLContext (server side) to offer STARTTLS with."""
        self.handler = _Handler()
        self.host, self.smtputf8, self.tls_context = host, smtputf8, tls_context
        self.port = 0
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def script(self, rcpt: str, *replies: str, stage: str = "rcpt") -> None:
        """Reply to `rcpt` with these, one per attempt (the last one repeats)."""
        target = self.handler.rcpt_scripts if stage == "rcpt" else self.handler.data_scripts
        target[rcpt.lower()] = list(replies)

    def __enter__(self) -> "SmtpSink":
        # A free port can be taken by someone else before we bind it: try another.
        for _attempt in range(20):
            self.port = free_port()
            self.controller = Controller(
                self.handler,
                hostname=self.host,
                port=self.port,
                decode_data=False,
                enable_SMTPUTF8=self.smtputf8,
                **({"tls_context": self.tls_context} if self.tls_context is not None else {}),
            )
            try:
                self.controller.start()
                return self
            except (OSError, RuntimeError):
                continue
        raise OSError("no free port for the SMTP sink")

    def __exit__(self, *exc) -> None:
        self.controller.stop()
