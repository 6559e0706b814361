"""What the other tasks ask about a dev.worker session: a report (status, doctor), a refusal while
one holds the queue (worker.up/restart, stack.up, prodlike.*), and a cancelled restore (worker.down,
stack.down during a session). Reporting reads only: it creates no folder and moves no record."""

from __future__ import annotations

from pathlib import Path

from ...drivers.compose import Compose
from ...drivers.handover.lock import describe_owner, session_running
from ...drivers.handover.record import Record, process_alive, read_record, state_dir, write_record
from ...knowledge.failures import UserError
from ...knowledge.guardian_checks import restoring_line
from ...knowledge.naming import background
from ...knowledge.queue_owners import and_aside, service_names


def describe(compose: Compose) -> str | None:
    """One line about a running or dead dev.worker session, for status and doctor (reports only)."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is None:
        return None
    service = compose.settings.service
    if session_running(directory):
        restore = (
            f"the {background(service)}{and_aside(record.aside)} "
            f"{'were' if record.aside else 'was'} stopped for it and {'come' if record.aside else 'comes'} back "
            "when it exits"
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
    """Never two workers on one queue: background-worker actions wait for the dev session to end, and
    so do those on a worker that stepped aside with another worker's session (it shares that queue)."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is not None and session_running(directory):
        raise UserError(
            f"{describe_owner(record, directory.name)} and has the queue; {action} would run two workers on it. "
            "End the dev worker (Ctrl+C): it restores the background worker itself"
        )
    service = compose.settings.service
    for other, record in aside_sessions(directory, service):
        raise UserError(
            f"{describe_owner(record, other.name)} and has its queue, which {service_names([service])} consumes "
            f"too: {service_names([service])} stepped aside for it; {action} would run two workers on that queue. "
            f"End that dev worker (Ctrl+C): it starts {service_names([service])} again itself"
        )


def aside_sessions(directory: Path, service: str) -> list[tuple[Path, Record]]:
    """Live sessions of the project's other workers (their folders beside ``directory``) for which
    ``service`` stepped aside and is to come back."""
    found = []
    try:
        siblings = sorted(p for p in directory.parent.iterdir() if p.is_dir() and p != directory)
    except OSError:
        return []
    for other in siblings:
        record = read_record(other)
        if record is not None and service in record.aside_pending and session_running(other):
            found.append((other, record))
    return found


def forget_restore(compose: Compose, action: str, *, whole_stack: bool = False) -> None:
    """worker.down or stack.down during a dev session: the user wants the worker down, so the session
    must not bring it back (and says why when it ends). The services that stepped aside with it still
    come back after `worker.down` (nobody asked them down), not after `stack.down` (``whole_stack``).
    A worker that stepped aside for another worker's session is not brought back by that one either."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is not None and record.restore_pending:
        record.cancelled_by = f"inv {action}"
        aside = record.aside_pending
        if whole_stack:
            record.aside = []
        write_record(directory, record)
        names = service_names(aside)
        also = (
            ""
            if not aside
            else f" (nor {names}, which stepped aside with it)"
            if whole_stack
            else f" ({names}, which stepped aside with it, still {'come' if len(aside) > 1 else 'comes'} back)"
        )
        print(
            f"note: the dev worker session (pid {record.pid}) will no longer restore the background "
            f"{compose.settings.service} when it ends{also}",
            flush=True,
        )
    service = compose.settings.service
    for other, record in aside_sessions(directory, service):
        record.aside = [s for s in record.aside if s != service]
        write_record(other, record)
        print(
            f"note: the dev worker session (pid {record.pid}) for {other.name} will no longer start "
            f"{service_names([service])} again when it ends",
            flush=True,
        )
