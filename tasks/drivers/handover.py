"""The on-disk record of a dev-worker session, so that no exit path loses the background worker.

`inv dev.worker` holds an OS file lock for as long as its process lives (the OS drops it when the
process dies, even on kill -9 or power loss, on every platform) and writes a JSON record saying who
stopped the background worker, when, and which dev process it started. A record whose lock is free
belongs to a session that died without cleaning up: the next dev.worker, worker.up or doctor restores
the background worker from it; worker.status only reports it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from tasks.drivers.compose import Compose
from tasks.knowledge.failures import UserError

# psutil and filelock are imported where used: most tasks only check that no record exists, and
# every millisecond of import is paid on each `inv` call.

RECORD = "handover.json"
LOCK = "dev-worker.lock"


@dataclass
class Record:
    pid: int
    process_started: float  # psutil create_time: tells a live session from a reused pid
    started_at: float
    host: str
    cwd: str
    worker_was_running: bool = False  # the background worker was running and this session stopped it
    cancelled_by: str | None = None  # e.g. "inv stack.down": asked during the session to leave it down
    dev_pid: int | None = None
    dev_started: float | None = None
    notes: list[str] = field(default_factory=list)
    #: How to bring the worker back as it was (a prod-like worker: compose files with the override and
    #: the variables of its plan); None for the normal worker.
    restore_files: list[str] | None = None
    restore_env: dict[str, str] | None = None

    @property
    def restore_pending(self) -> bool:
        """The background worker is to come back when the session ends."""
        return self.worker_was_running and not self.cancelled_by

    @property
    def since(self) -> str:
        return datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M:%S")


def state_dir(compose: Compose) -> Path:
    """`.devstack/<project>/<worker>/`: record, lock, gate and ready files are per worker, so sessions for
    two workers run side by side while two for the same worker cannot."""
    s = compose.settings
    project = s.state_dir / compose.project_name
    directory = project / (s.worker_name or s.service)
    _adopt_legacy_record(project, directory, first_worker=not s.workers or s.workers[0].name == s.worker_name)
    return directory


def _adopt_legacy_record(project: Path, directory: Path, *, first_worker: bool) -> None:
    """A session of the version before per-worker folders kept its record in `<project>/`: a killed
    one's promise to restore the worker moves to the first worker's folder, so it is not lost. A
    session still running there (its lock held) is left alone."""
    legacy = project / RECORD
    if not first_worker or not legacy.is_file() or (directory / RECORD).exists():
        return
    if SessionLock(project).held_by_someone():
        return
    directory.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(legacy, directory / RECORD)
    except OSError:
        pass


def process_started(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def process_alive(pid: int | None, started: float | None) -> bool:
    """Is this exact process (pid and start time) still running? Works on Windows too."""
    if not pid:
        return False
    actual = process_started(pid)
    if actual is None:
        return False
    if started is None:
        return True
    return abs(actual - started) < 1.0


def read_record(directory: Path) -> Record | None:
    try:
        data = json.loads((directory / RECORD).read_text(encoding="utf-8"))
        return Record(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        # A torn or foreign file: treat as stale but keep the fact visible.
        return Record(
            pid=0,
            process_started=0,
            started_at=0,
            host="?",
            cwd="?",
            worker_was_running=True,
            notes=["unreadable record"],
        )


def write_record(directory: Path, record: Record) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{RECORD}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    os.replace(tmp, directory / RECORD)


def remove_record(directory: Path) -> None:
    try:
        (directory / RECORD).unlink()
    except FileNotFoundError:
        pass


def new_record(worker_was_running: bool) -> Record:
    import socket  # only a new session needs the host name

    me = os.getpid()
    return Record(
        pid=me,
        process_started=process_started(me) or time.time(),
        started_at=time.time(),
        host=socket.gethostname(),
        cwd=os.getcwd(),
        worker_was_running=worker_was_running,
    )


class SessionLock:
    """Exclusive per worker of a compose project: a second dev.worker for it refuses, a dead session never blocks."""

    def __init__(self, directory: Path):
        from filelock import FileLock

        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._lock = FileLock(str(directory / LOCK), timeout=0)

    def acquire(self) -> None:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            owner = describe_owner(read_record(self.directory), self.directory.name)
            raise UserError(f"{owner}; stop it first") from None

    def release(self) -> None:
        self._lock.release()

    def held_by_someone(self) -> bool:
        """True when a live session holds the lock (probing takes and drops it at once)."""
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            return True
        self._lock.release()
        return False


def describe_owner(record: Record | None, worker: str = "") -> str:
    of = f" for {worker}" if worker else ""
    if record is None:
        return f"another dev worker session{of} is running"
    return f"a dev worker{of} is already running (pid {record.pid}, since {record.since}, in {record.cwd})"


def terminate_orphan(record: Record, timeout: float = 35.0) -> bool:
    """Stop a dev worker left running by a killed session (it would compete for the queue).

    SIGTERM lets it finish its active job (the dev runner waits up to the worker's stop grace
    period, 30 s by default); only what is still alive after ``timeout`` is killed.
    """
    import psutil

    if not process_alive(record.dev_pid, record.dev_started):
        return False
    try:
        parent = psutil.Process(record.dev_pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for proc in family:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return True


def stale_record(compose: Compose) -> Record | None:
    """The record of a session that ended without restoring, if any (None while one is running)."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is None or SessionLock(directory).held_by_someone():
        return None
    return record


def recover_stale(compose: Compose) -> bool:
    """Restore the background worker after a dev.worker session that was killed. Returns True if it acted."""
    record = stale_record(compose)
    if record is None:
        return False
    directory = state_dir(compose)
    service = compose.settings.service
    orphan = terminate_orphan(record)
    if record.restore_pending:
        print(
            f"note: a dev.worker session (pid {record.pid}, since {record.since}) ended without restoring "
            f"the background {service}; "
            + ("stopped its leftover dev worker and " if orphan else "")
            + f"restoring the {service} now"
            + (" (prod-like, with its plan)" if record.restore_files else ""),
            flush=True,
        )
        from tasks.drivers import worker_service  # only this path starts anything

        problem = worker_service.give_back(compose, record)
        if problem:
            raise UserError(f"restoring the background {service} failed: {problem}")
    elif orphan:
        print(f"note: stopped a dev worker left running by a killed dev.worker session (pid {record.pid})", flush=True)
    remove_record(directory)
    return True


def describe(compose: Compose) -> str | None:
    """One line about a running or dead dev.worker session, for status and doctor (reports only)."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is None:
        return None
    service = compose.settings.service
    if SessionLock(directory).held_by_someone():
        restore = (
            f"the background {service} was stopped for it and comes back when it exits"
            if record.restore_pending
            else f"the background {service} stays down when it exits ({record.cancelled_by} during the session)"
            if record.cancelled_by
            else f"the background {service} was not running before it"
        )
        return f"dev worker: running (pid {record.pid}, since {record.since}); {restore}"
    if record.restore_pending:
        return (
            f"dev worker: a session (pid {record.pid}, since {record.since}) was killed before restoring the "
            f"background {service}: run `inv worker.up` to restore it"
        )
    return f"dev worker: a session (pid {record.pid}) was killed; nothing to restore (`inv worker.up` clears this)"


def refuse_if_active(compose: Compose, action: str) -> None:
    """Never two workers on one queue: background-worker actions wait for the dev session to end."""
    directory = state_dir(compose)
    if read_record(directory) is not None and SessionLock(directory).held_by_someone():
        record = read_record(directory)
        raise UserError(
            f"{describe_owner(record, directory.name)} and has the queue; {action} would run two workers on it. "
            "End the dev worker (Ctrl+C): it restores the background worker itself"
        )


def forget_restore(compose: Compose, action: str) -> None:
    """worker.down or stack.down during a dev session: the user wants the worker down, so the session
    must not bring it back (and says why when it ends)."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is not None and record.restore_pending:
        record.cancelled_by = f"inv {action}"
        write_record(directory, record)
        print(
            f"note: the dev worker session (pid {record.pid}) will no longer restore the background "
            f"{compose.settings.service} when it ends",
            flush=True,
        )
