"""SpamAssassin's spamd on loopback for the tests: Debian's spamd on a free port, network tests off (-L:
no DNS blocklists, nothing leaves the machine), as `nobody`; `url` is what SPAMD_URL takes.

`make test` installs the Debian packages (spamassassin, spamd); without them the tests that need spamd
are skipped on a developer machine and fail in CI."""

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiospamc
import pytest

from tests.smtpsink import free_port

SPAMD = "/usr/sbin/spamd"


class Spamd:
    def __enter__(self) -> "Spamd":
        if not os.access(SPAMD, os.X_OK):
            if os.environ.get("CI"):
                pytest.fail(f"{SPAMD} is missing: `make test` installs it (as root) from Debian's packages")
            pytest.skip(f"{SPAMD} is missing; install the Debian packages spamassassin and spamd")
        self.folder = Path(tempfile.mkdtemp(prefix="spamd-"))
        self.port = free_port()
        command = [SPAMD, f"--listen=127.0.0.1:{self.port}", "--allowed-ips=127.0.0.1", "--local",
                   "--max-children=2", "--min-children=1", "--syslog=stderr", f"--pidfile={self.folder}/pid",
                   "--nouser-config"]  # fmt: skip
        if os.geteuid() == 0:
            command.append("--username=nobody")
        self.log = open(self.folder / "log", "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"spamd stopped: {(self.folder / 'log').read_text()[-2000:]}")
            try:  # PING answered: the rules are loaded and a child is ready
                asyncio.run(aiospamc.ping(host="127.0.0.1", port=self.port))
                return self
            except (aiospamc.exceptions.ClientException, OSError):
                time.sleep(0.3)
        raise RuntimeError("spamd did not start within 60 s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"spamd://127.0.0.1:{self.port}"
