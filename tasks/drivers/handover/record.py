"""The on-disk record of a dev-worker session, so that no exit path loses the background worker.

`inv dev.worker` writes a JSON record (in the worker's state folder, beside the session lock of
`lock.py`) saying who stopped the background worker, when, which dev process it started and how to
bring the worker back. Reading it never writes: only an explicit recovery path (dev.worker,
worker.up, stack.up, prodlike.up, doctor) moves the record of an older layout (`adopt_legacy_record`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from ...drivers.compose import Compose

# psutil and filelock are imported where used: most tasks only check that no record exists, and
# every millisecond of import is paid on each `inv` call.

RECORD = "handover.json"


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
    #: The command that stops the background worker (`docker compose stop`), recorded before it runs
    #: (its argv and the time) and once it runs (pid and start time): it outlives a killed session, and
    #: the guardian waits for it before it restores anything (tasks/drivers/handover/guardian.py).
    stop_argv: list[str] | None = None
    stop_since: float | None = None
    stop_pid: int | None = None
    stop_started: float | None = None
    #: Where the dev worker dials Redis (the relay, Redis itself), as [host, port]: a leftover dev worker
    #: of a killed session is stopped by its queue consumers first, as the session would have.
    redis_addresses: list[list[str | int]] | None = None
    #: Other background services that consumed the worker's queues and stepped aside with it (stopped by
    #: the same `docker compose stop`, started again with it: `restore.give_back_all`).
    aside: list[str] = field(default_factory=list)
    #: This session's guardian (`worker.status` says it is restoring while it lives).
    guardian_pid: int | None = None
    guardian_started: float | None = None

    @property
    def restore_pending(self) -> bool:
        """The background worker is to come back when the session ends."""
        return self.worker_was_running and not self.cancelled_by

    @property
    def aside_pending(self) -> list[str]:
        """The services that stepped aside with the worker and are to come back (even when the worker
        itself is to stay down: `worker.down` during the session asked that of the worker only)."""
        return list(self.aside) if self.worker_was_running else []

    @property
    def since(self) -> str:
        return datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M:%S")


def state_dir(compose: Compose) -> Path:
    """`.devstack/<project>/<worker>/`: record, lock, gate and ready files are per worker, so sessions for
    two workers run side by side while two for the same worker cannot. A path only: nothing is created."""
    return compose.worker_state_dir


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
