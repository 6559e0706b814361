"""The session lock: one dev.worker session per worker of a compose project at a time.

`inv dev.worker` holds an OS file lock for as long as its process lives (the OS drops it when the
process dies, even on kill -9 or power loss, on every platform). A record whose lock is free belongs
to a session that died without cleaning up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...drivers.handover.record import Record, read_record
from ...knowledge.failures import UserError

if TYPE_CHECKING:
    from filelock import BaseFileLock

# filelock is imported where used: most tasks only check that no record exists.

LOCK = "dev-worker.lock"


class SessionLock:
    """Exclusive per worker of a compose project: a second dev.worker for it refuses, a dead session never blocks."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / LOCK
        self._lock: BaseFileLock | None = None

    def _file_lock(self) -> BaseFileLock:
        from filelock import FileLock

        if self._lock is None:
            self._lock = FileLock(str(self.path), timeout=0)
        return self._lock

    def acquire(self) -> None:
        from filelock import Timeout

        self.directory.mkdir(parents=True, exist_ok=True)
        lock = self._file_lock()
        try:
            lock.acquire()
        except Timeout:
            owner = describe_owner(read_record(self.directory), self.directory.name)
            raise UserError(f"{owner}; stop it first") from None

    def release(self) -> None:
        self._file_lock().release()

    def held_by_someone(self) -> bool:
        """True when a live session holds the lock (probing takes and drops it at once). Creates
        nothing: no lock file means no session ever held it here."""
        from filelock import Timeout

        if not self.path.is_file():
            return False
        lock = self._file_lock()
        try:
            lock.acquire()
        except Timeout:
            return True
        lock.release()
        return False


def session_running(directory: Path) -> bool:
    """Is a live dev.worker session holding this folder's lock?"""
    return SessionLock(directory).held_by_someone()


def describe_owner(record: Record | None, worker: str = "") -> str:
    of = f" for {worker}" if worker else ""
    if record is None:
        return f"another dev worker session{of} is running"
    return f"a dev worker{of} is already running (pid {record.pid}, since {record.since}, in {record.cwd})"
