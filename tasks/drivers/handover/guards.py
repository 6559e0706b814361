"""What the other tasks ask about a dev.worker session: a report (status, doctor), a refusal while
one holds the queue (worker.up/restart, stack.up, prodlike.*), and a cancelled restore (worker.down,
stack.down during a session). Reporting reads only: it creates no folder and moves no record."""

from __future__ import annotations

from ...drivers.compose import Compose
from ...drivers.handover.lock import describe_owner, session_running
from ...drivers.handover.record import process_alive, read_record, state_dir, write_record
from ...knowledge.failures import UserError
from ...knowledge.guardian_checks import restoring_line
from ...knowledge.naming import background


def describe(compose: Compose) -> str | None:
    """One line about a running or dead dev.worker session, for status and doctor (reports only)."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is None:
        return None
    service = compose.settings.service
    if session_running(directory):
        restore = (
            f"the {background(service)} was stopped for it and comes back when it exits"
            if record.restore_pending
            else f"the {background(service)} stays down when it exits ({record.cancelled_by} during the session)"
            if record.cancelled_by
            else f"the {background(service)} was not running before it"
        )
        # the dev command's pid once started (what a person looks for in ps/Task Manager), and inv's
        dev = f"pid {record.dev_pid}, " if record.dev_pid else ""
        return f"dev worker: running ({dev}`inv dev.worker` pid {record.pid}, since {record.since}); {restore}"
    if record.restore_pending and record.guardian_pid and process_alive(record.guardian_pid, record.guardian_started):
        return restoring_line(record.pid, record.since, record.guardian_pid, background(service))
    if record.restore_pending:
        return (
            f"dev worker: a session (pid {record.pid}, since {record.since}) was killed before restoring the "
            f"{background(service)}: run `inv worker.up` to restore it"
        )
    return f"dev worker: a session (pid {record.pid}) was killed; nothing to restore (`inv worker.up` clears this)"


def refuse_if_active(compose: Compose, action: str) -> None:
    """Never two workers on one queue: background-worker actions wait for the dev session to end."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is not None and session_running(directory):
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
