"""`inv dev.worker`: hand the queue from the background worker to a dev worker and back.

Replaces `scripts/dev-worker.sh` and fixes what it leaves to luck: SIGTERM/SIGHUP, a killed session
(recorded on disk, recovered by the next command), two dev workers at once (refused), Ctrl+C exit codes.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

if TYPE_CHECKING:  # imported by the tasks themselves when they run
    from tasks.drivers.compose import Compose


def _restore(compose: Compose, directory: Path) -> None:
    """Bring the background worker back if the record says so; keep the record if that fails."""
    from tasks.drivers import handover, worker_service
    from tasks.drivers.foreground import say
    from tasks.knowledge.failures import UserError

    s = compose.settings
    record = handover.read_record(directory)
    if record is None or not record.worker_was_running:
        say(f"the background {s.service} was not running before; leaving it stopped")
        handover.remove_record(directory)
        return
    say(f"restoring the background {s.service} ...")
    try:
        result = worker_service.restore_worker(compose, record)
        problem = None if result.ok else compose.diagnose(result)
    except UserError as error:
        problem = error.reason
    if problem:
        say(
            f"warning: could not restore the background {s.service} ({problem}); "
            "run `inv worker.up` when Docker is back (the next inv command also retries)"
        )
        return
    handover.remove_record(directory)
    say(f"background {s.service} restored" + (" (prod-like, with its plan)" if record.restore_files else ""))


@task(
    help={
        "scheduler": "Run the scheduler in the dev worker as .env says (default); "
        "--no-scheduler turns it off for this session.",
    }
)
def worker(c: Context, scheduler: bool = True) -> None:
    """Run the dev worker in the foreground; the background worker steps aside and comes back on exit."""
    from tasks.drivers import handover, process, worker_service
    from tasks.drivers.compose import Compose
    from tasks.drivers.foreground import ForegroundChild, say
    from tasks.knowledge.dev_env import dev_environment
    from tasks.knowledge.exit_codes import exit_code
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    directory = handover.state_dir(compose)
    lock = handover.SessionLock(directory)
    lock.acquire()
    child = ForegroundChild([], cwd=s.app_dir, env=dev_environment(compose.dotenv.values, dict(os.environ), scheduler))
    child.install_handlers()
    returncode = 0
    try:
        # We hold the lock, so any record here is from a session that died: adopt its promise.
        stale = handover.read_record(directory)
        adopted = bool(stale and stale.worker_was_running)
        if stale is not None:
            orphan = handover.terminate_orphan(stale)
            say(
                f"a previous session (pid {stale.pid}, since {stale.since}) was killed"
                + ("; stopped its leftover dev worker" if orphan else "")
                + (f"; the background {s.service} comes back when this one ends" if adopted else "")
            )
        running = False
        try:
            running = any(ct.running for ct in compose.ps(s.service))
        except UserError as error:
            say(f"warning: {error.reason}; starting the dev worker anyway")
        record = handover.new_record(worker_was_running=running or adopted)
        if running:  # a prod-like worker comes back prod-like, with the same plan
            record.restore_files, record.restore_env = worker_service.prodlike_restore(compose)
        elif stale is not None:
            record.restore_files, record.restore_env = stale.restore_files, stale.restore_env
        handover.write_record(directory, record)
        if running:
            say(f"stopping the background {s.service} (it finishes its current job) ...")
            result = compose.run("stop", s.service, capture=True)
            if not result.ok:
                raise UserError(
                    f"could not stop the background {s.service} ({compose.diagnose(result)}); "
                    "not starting a second worker on the same queue"
                )
        if child.received:
            say("interrupted before the dev worker started")
            returncode = 128 + int(child.received[0])
        else:
            child.argv = process.resolve(shlex.split(s.app_dev))
            proc = child.start()
            record.dev_pid = proc.pid
            record.dev_started = handover.process_started(proc.pid)
            handover.write_record(directory, record)
            say(
                f"dev worker running (`{s.app_dev}`, pid {proc.pid}); Ctrl+C stops it"
                + (f" and brings the background {s.service} back" if record.worker_was_running else "")
            )
            returncode = child.wait()
            say(f"dev worker exited (code {returncode})")
    finally:
        _restore(compose, directory)
        child.restore_handlers()
        lock.release()
    code = exit_code(returncode, child.received)
    if code:
        raise Exit(code=code)


ns = Collection("dev", worker)
