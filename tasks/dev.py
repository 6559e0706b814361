"""`inv dev.worker`: hand the queue from the background worker to a dev worker and back.

Replaces `scripts/dev-worker.sh` and fixes what it leaves to luck: SIGTERM/SIGHUP, a killed session
(recorded on disk, recovered by the next command), two dev workers at once (refused), Ctrl+C exit codes.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from .cli_args import optional_positional


@task(
    positional=["name"],
    help={
        "name": "The worker to hand over: a name from invoke.yaml's `workers` (or its service), as a word after "
        "the task (`inv dev.worker email`) or `-n NAME` / `--name NAME` (needed when the name is also a task's); "
        "default: the only one, or the first.",
        "scheduler": "Run the scheduler in the dev worker as .env says (default); "
        "--no-scheduler turns it off for this session.",
        "allow-sharing": "Let other background services that consume this worker's queue keep consuming beside the dev "
        "worker (sharing on purpose); without it they step aside with the background worker (stopped with it, "
        "started again with it), said in one line.",
    },
)
def worker(c: Context, name: str | None = None, scheduler: bool = True, allow_sharing: bool = False) -> None:
    """Run a dev worker in the foreground while its background worker steps aside.

    `inv dev.worker [NAME]`: the background worker comes back when the session ends.
    One session per worker at a time: two sessions for two different workers run side by side.
    """
    from .drivers import workers
    from .drivers.compose import Compose
    from .drivers.foreground import say
    from .drivers.handover.session import DevSession
    from .knowledge.exit_codes import exit_code

    chosen = workers.one(c, name)
    if not name and chosen.several_workers:
        others = ", ".join(w.name for w in chosen.workers[1:])
        say(
            f"no worker named: taking the first, {chosen.worker_name} (also configured: {others}; "
            "`inv dev.worker NAME` for another)"
        )
    session = DevSession(Compose(chosen), scheduler=scheduler, share_queue=allow_sharing)
    code = exit_code(session.run(), session.child.received)
    if code:
        raise Exit(code=code)


optional_positional("dev.worker")

ns = Collection("dev", worker)
