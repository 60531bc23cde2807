"""The listeners of `manage.py smtpd` on one asyncio loop: STARTTLS ports and implicit-TLS ports, a thread
pool for the database, and a graceful stop (no new connections, sessions in DATA finish, then exit).

    server = SmtpServer()            # ports and TLS from settings (SMTPD_*)
    await server.start(); ...; await server.stop()
    with SmtpServer(...).running():  # in a background thread, for tests and benchmarks
"""

import asyncio
import contextlib
import functools
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.db import close_old_connections

from directmail.metrics import SMTP_SESSIONS
from sending.smtp import tls
from sending.smtp.handler import Handler

log = logging.getLogger(__name__)

# Several smtpd processes may listen on one port; the kernel spreads connections over them.
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")
# Commands a client has no business repeating without end on one connection ("*": all the others, which a
# long-lived connection sending many messages repeats freely).
COMMAND_LIMITS = {"*": 10**9, "NOOP": 1000, "VRFY": 20, "EXPN": 20, "HELP": 50}


class _Protocol(SMTP):
    """aiosmtpd's SMTP, counting sessions in DATA (from the 354 to the reply) so a stop can wait for them."""

    def __init__(self, owner: "SmtpServer", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.in_data = False

    async def smtp_DATA(self, arg: str) -> None:
        self.in_data = True
        self.owner.in_data += 1
        try:
            await super().smtp_DATA(arg)
        finally:
            self.in_data = False
            self.owner.in_data -= 1
            if self.owner.stopping and self.transport is not None:
                await self.push("421 4.3.2 Service shutting down")
                self.transport.close()

    def connection_made(self, transport) -> None:
        sockname = transport.get_extra_info("sockname")
        SMTP_SESSIONS.labels(str(sockname[1]) if sockname else "").inc()
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        self.owner._protocols.discard(self)
        super().connection_lost(error)


def _in_thread(function, args):
    """Run a database function as Django runs a request: stale connections closed before and after."""
    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


class SmtpServer:
    def __init__(
        self,
        *,
        host: str | None = None,
        starttls_ports: list[int] | None = None,
        tls_ports: list[int] | None = None,
        plaintext_auth_ports: list[int] | None = None,
    ):
        self.host = host or settings.SMTPD_HOST
        self.starttls_ports = settings.SMTPD_PORT if starttls_ports is None else starttls_ports
        self.tls_ports = settings.SMTPD_TLS_PORT if tls_ports is None else tls_ports
        self.plaintext_auth_ports = (
            settings.SMTPD_PLAINTEXT_AUTH_PORTS if plaintext_auth_ports is None else plaintext_auth_ports
        )
        self.hostname = settings.SMTPD_HOSTNAME or socket.getfqdn()
        self.bound: dict[str, list[int]] = {"starttls": [], "tls": []}  # the ports listened on (0 -> real)
        self._servers: list[asyncio.Server] = []
        self._protocols: set[SMTP] = set()
        self.in_data = 0  # sessions between DATA and its reply: a graceful stop waits for them
        self.stopping = False
        self._executor: ThreadPoolExecutor | None = None
        self.handler: Handler | None = None

    async def run_db(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _in_thread, function, args)

    def _protocol(self, *, tls_context, auth_require_tls: bool) -> SMTP:
        protocol = _Protocol(
            self,
            self.handler,
            hostname=self.hostname,
            ident="directmail",
            tls_context=tls_context,
            auth_require_tls=auth_require_tls,
            data_size_limit=settings.SMTPD_MAX_MESSAGE_SIZE,
            enable_SMTPUTF8=True,
            timeout=300,
            command_call_limit=COMMAND_LIMITS,
        )
        self._protocols.add(protocol)
        return protocol

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(settings.SMTPD_DB_THREADS, thread_name_prefix="smtpd-db")
        self.handler = Handler(self.run_db, self.hostname)
        context = tls.server_context()
        for port in self.starttls_ports:
            plaintext_auth = port in self.plaintext_auth_ports
            factory = functools.partial(
                self._protocol, tls_context=context, auth_require_tls=not plaintext_auth
            )
            server = await loop.create_server(factory, self.host, port, reuse_port=REUSE_PORT)
            self._servers.append(server)
            self.bound["starttls"].append(server.sockets[0].getsockname()[1])
        for port in self.tls_ports:
            # Implicit TLS: the connection is encrypted from its first byte, so AUTH is allowed at once.
            factory = functools.partial(self._protocol, tls_context=None, auth_require_tls=False)
            server = await loop.create_server(factory, self.host, port, ssl=context, reuse_port=REUSE_PORT)
            self._servers.append(server)
            self.bound["tls"].append(server.sockets[0].getsockname()[1])
        log.info("smtpd on %s: STARTTLS %s, TLS %s", self.host, self.bound["starttls"], self.bound["tls"])

    async def stop(self, grace: float = 30) -> None:
        """Stop accepting; close idle sessions with 421; let sessions in DATA finish (up to `grace`
        seconds) and close each after its reply; then close whatever is left."""
        self.stopping = True
        for server in self._servers:
            server.close()
        await self._close_sessions(lambda protocol: not protocol.in_data)
        deadline = time.monotonic() + grace
        while self.in_data and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._close_sessions(lambda protocol: True)
        if self.handler is not None:
            await self.handler.committer.close()
        for server in self._servers:
            await server.wait_closed()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def _close_sessions(self, which) -> None:
        for protocol in [p for p in self._protocols if which(p)]:
            with contextlib.suppress(Exception):  # a session may end on its own meanwhile
                await protocol.push("421 4.3.2 Service shutting down")
            if protocol.transport is not None:
                protocol.transport.close()

    @contextlib.contextmanager
    def running(self):
        """Run in a background thread with its own loop until the block ends (tests, benchmarks)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve():
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="smtpd", daemon=True)
        thread.start()
        started.wait(30)
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(grace=5), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
