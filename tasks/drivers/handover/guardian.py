"""The guardian of a dev session: a small detached process that gives the queue back if `inv dev.worker` is killed.

`inv dev.worker` starts it once its handover record is written:

    python -m tasks.drivers.handover.guardian <state dir> <session pid> <session start time>

It waits for the session's process to end. A session that ended normally has removed its record (or
a new session holds the lock): the guardian just exits. A session killed at any phase (kill -9, a
crashed IDE, a closed console on Windows) leaves its record with the lock free: the guardian then
runs the one recovery there is (`restore.recover_stale`: the record is the single source of
truth), which stops a leftover dev worker gracefully (its grace period) and restores the background
worker as the record says, within about a second when the dev worker is idle. A `compose stop`
still finishing the background worker's job (a session killed during the stop) is waited for:
the restore is retried until the worker runs, up to the grace period.

`DEVSTACK_GUARDIAN=0` starts none: a killed session is then recovered by the next command, as after
a power loss (when the guardian dies too). It needs the session's settings; they are pickled beside
the record (`guardian-<session pid>.pickle`, removed when the guardian ends), written by the
session. Output goes to `guardian.log` in the state folder.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...drivers.compose import Compose

SETTINGS = "guardian-{pid}.pickle"  # per session: a new session's file is never another guardian's
LOG = "guardian.log"


def spawn(compose: Compose, directory: Path) -> subprocess.Popen[bytes] | None:
    """Start the guardian for this process's session; None when it cannot start (then the next
    command recovers, as before)."""
    from ...drivers.handover.record import process_started
    from ...drivers.process import detached

    if os.environ.get("DEVSTACK_GUARDIAN") == "0":
        return None  # recovery is then left to the next command (as after a power loss)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        me = os.getpid()
        (directory / SETTINGS.format(pid=me)).write_bytes(pickle.dumps(compose.settings))
        started = repr(process_started(me))
        # This module by its own name: `tasks...` from a checkout, the installed package's name otherwise.
        argv = [sys.executable, "-m", __name__, str(directory), str(me), started]
        root = Path(__file__).resolve().parents[3]  # a checkout's root, where `tasks` is importable
        log = open(directory / LOG, "ab")  # noqa: SIM115 - handed to the child
        with log:
            return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
                argv, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True, **detached()
            )
    except (OSError, pickle.PicklingError):
        return None


def wait_for_death(pid: int, started: float | None) -> None:
    """Until that exact process (pid and start time) is gone, or a zombie its parent has not reaped
    yet (its files, and so its lock, are already closed); polls every 20 ms."""
    import psutil

    from ...drivers.handover.record import process_alive

    while process_alive(pid, started):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        time.sleep(0.02)


def guard(directory: Path, pid: int, started: float | None) -> int:
    try:
        return _guard(directory, pid, started)
    finally:
        (directory / SETTINGS.format(pid=pid)).unlink(missing_ok=True)


def _guard(directory: Path, pid: int, started: float | None) -> int:
    from ...drivers.compose import Compose
    from ...drivers.handover.record import read_record
    from ...drivers.handover.restore import recover_stale
    from ...knowledge.durations import parse_duration
    from ...knowledge.failures import UserError

    wait_for_death(pid, started)
    record = read_record(directory)
    if record is None or record.pid != pid:
        return 0  # ended normally (or another session's record): nothing to do
    settings = pickle.loads((directory / SETTINGS.format(pid=pid)).read_bytes())
    compose = Compose(settings, require_env=False)
    grace = parse_duration(compose.env.get("WORKER_STOP_GRACE_PERIOD"), 30.0)
    print(f"[guardian] dev.worker session pid {pid} ended without cleaning up: recovering", flush=True)
    deadline = time.monotonic() + grace + 10
    while True:
        try:
            recover_stale(compose)  # the one recovery (a no-op once the record is gone)
            print("[guardian] done", flush=True)
            return 0
        except UserError as error:
            # e.g. the session's `compose stop` was still finishing the background worker's job
            if time.monotonic() > deadline:
                print(f"[guardian] giving up: {error.reason} (the next inv command retries)", flush=True)
                return 1
            print(f"[guardian] not yet: {error.reason}; retrying", flush=True)
            time.sleep(0.2)


def main(argv: list[str]) -> int:
    directory, pid, started = Path(argv[0]), int(argv[1]), argv[2]
    return guard(directory, pid, None if started == "None" else float(started))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
