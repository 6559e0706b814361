"""The handover room: everything about an `inv dev.worker` session in one package.

- ``record``: the session's record on disk and the worker's state folder (reading never writes);
- ``lock``: the session lock (one session per worker; a dead session never blocks);
- ``restore``: the one restore (session end and recovery of a killed session), the recovery itself;
- ``guards``: what other tasks ask (status line, refusals, a cancelled restore);
- ``session``: the session's sequence (`DevSession`), imported by `inv dev.worker` only.

The names other tasks use to ask about a session are re-exported here
(``handover.refuse_if_active(compose, ...)``). The restore path is imported by name where it runs
(``from .drivers.handover import restore``; ``restore.recover_stale(compose)``), so that the tasks
that only ask (``worker.status``) do not load it and what it loads.
"""

from __future__ import annotations

from ...drivers.handover.guards import describe, forget_restore, refuse_if_active
from ...drivers.handover.lock import LOCK, SessionLock, describe_owner
from ...drivers.handover.record import (
    RECORD,
    Record,
    new_record,
    process_alive,
    process_started,
    read_record,
    remove_record,
    state_dir,
    write_record,
)

__all__ = [
    "LOCK",
    "RECORD",
    "Record",
    "SessionLock",
    "describe",
    "describe_owner",
    "forget_restore",
    "new_record",
    "process_alive",
    "process_started",
    "read_record",
    "refuse_if_active",
    "remove_record",
    "state_dir",
    "write_record",
]
