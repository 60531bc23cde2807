"""SQLite for the embedded default, with writers queued on a file lock.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps and polls (1, 2, 5 ...
up to 100 ms between tries). Under many concurrent writers - web threads accepting API calls, workers,
smtpd - that polling, not the work, set the pace: calls waited hundreds of milliseconds for a lock that
was free most of the time. Here each connection takes an exclusive flock() on `<database>-writers.lock`
before BEGIN and gives it back at COMMIT or ROLLBACK: the kernel wakes the next writer the moment the
lock is free. Every process of the install (web, worker, smtpd) uses this backend, so they queue
together; anything else that writes (the sqlite3 shell) still meets SQLite's own lock and busy timeout.
"""

import fcntl
import os

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    _lock_fd: int | None = None
    _lock_held = False

    def _lock_path(self) -> str | None:
        if self.is_in_memory_db():
            return None
        return f"{self.settings_dict['NAME']}-writers.lock"

    def _take_write_lock(self) -> None:
        path = self._lock_path()
        if path is None or self._lock_held:
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._lock_held = True

    def _give_write_lock(self) -> None:
        if self._lock_held:
            self._lock_held = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # type: ignore[arg-type]  # held: it is open

    def _start_transaction_under_autocommit(self):
        self._take_write_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._give_write_lock()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._give_write_lock()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._give_write_lock()

    def _close(self):
        try:
            super()._close()
        finally:
            self._give_write_lock()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
