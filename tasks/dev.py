"""`inv dev.worker`: hand the queue from the background worker to a dev worker and back.

Replaces `scripts/dev-worker.sh` and fixes what it leaves to luck: SIGTERM/SIGHUP, a killed session
(recorded on disk, recovered by the next command), two dev workers at once (refused), Ctrl+C exit codes.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task


@task(
    help={
        "scheduler": "Run the scheduler in the dev worker as .env says (default); "
        "--no-scheduler turns it off for this session.",
    }
)
def worker(c: Context, scheduler: bool = True) -> None:
    """Run the dev worker in the foreground; the background worker steps aside and comes back on exit."""
    from tasks.drivers.compose import Compose
    from tasks.drivers.dev_session import DevSession
    from tasks.knowledge.exit_codes import exit_code
    from tasks.knowledge.settings import settings

    session = DevSession(Compose(settings(c)), scheduler=scheduler)
    code = exit_code(session.run(), session.child.received)
    if code:
        raise Exit(code=code)


ns = Collection("dev", worker)
