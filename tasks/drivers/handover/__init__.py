"""The handover room: everything about an `inv dev.worker` session in one package.

- ``record``: the session's record on disk and the worker's state folder (reading never writes);
- ``lock``: the session lock (one session per worker; a dead session never blocks);
- ``restore``: the one restore (session end and recovery of a killed session), the recovery itself;
- ``guards``: what other tasks ask (status line, refusals, a cancelled restore);
- ``session``: the session's sequence (`DevSession`), imported by `inv dev.worker` only.

The names other tasks use are re-exported here (``handover.refuse_if_active(compose, ...)``); the
restore function itself is ``handover.restore.restore`` (the submodule keeps its name).
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
from ...drivers.handover.restore import (
    adopt_legacy_record,
    give_back,
    recover_stale,
    stale_record,
    terminate_orphan,
)

__all__ = [
    "LOCK",
    "RECORD",
    "Record",
    "SessionLock",
    "adopt_legacy_record",
    "describe",
    "describe_owner",
    "forget_restore",
    "give_back",
    "new_record",
    "process_alive",
    "process_started",
    "read_record",
    "recover_stale",
    "refuse_if_active",
    "remove_record",
    "stale_record",
    "state_dir",
    "terminate_orphan",
    "write_record",
]
