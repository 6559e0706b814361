"""`inv worker.*`: the background worker container (compose profile `worker`).

These replace the package.json scripts `worker:up`, `worker:down`, `worker:logs`, `worker:restart`.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task


@task(help={"build": "Build the app (npm run build) and rebuild the image before starting."})
def up(c: Context, build: bool = False) -> None:
    """Start the background worker (and postgres/redis); it comes back whenever Docker starts."""
    from tasks.drivers import handover, host_app, worker_service
    from tasks.drivers.compose import Compose
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "worker.up")
    handover.recover_stale(compose)
    worker_service.note_leaving_prodlike(compose, "worker.up")
    if build:
        host_app.build(s)
    else:
        host_app.require_dist(s, allow_stale=True)
    worker_service.start_worker(compose, build=build)


@task(help={"rm": "Also remove the container (the next worker.up creates a new one)."})
def down(c: Context, rm: bool = False) -> None:
    """Stop the background worker gracefully; the container is kept unless --rm."""
    from tasks.drivers import handover
    from tasks.drivers.compose import Compose
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    handover.forget_restore(compose, "worker.down")
    compose.check("stop", s.service, what=f"stopping the {s.service} service")
    if rm:
        compose.check("rm", "--force", s.service, what=f"removing the {s.service} container")


@task(
    help={
        "follow": "Keep streaming new lines (Ctrl+C ends it).",
        "tail": "Show only the last N lines.",
        "since": "Only lines since a time: a timestamp or a duration like 10m.",
    }
)
def logs(c: Context, follow: bool = False, tail: str | None = None, since: str | None = None) -> None:
    """Show the background worker's logs."""
    from tasks.drivers.compose import Compose
    from tasks.drivers.process import INTERRUPTED
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    args = ["logs"]
    if follow:
        args.append("--follow")
    if tail is not None:
        if not str(tail).isdigit() and str(tail) != "all":
            raise UserError(f"--tail takes a number of lines or `all`, not {tail!r}")
        args += ["--tail", str(tail)]
    if since:
        args += ["--since", str(since)]
    compose.check(*args, s.service, what=f"reading the {s.service} logs", ok_codes=(0, INTERRUPTED))


@task
def restart(c: Context) -> None:
    """Restart the background worker container (to apply config changes, use worker.up)."""
    from tasks.drivers import handover
    from tasks.drivers.compose import Compose
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "worker.restart")
    if not compose.containers(s.service):
        raise UserError(f"there is no {s.service} container to restart: start it with `inv worker.up`")
    compose.check("restart", s.service, what=f"restarting the {s.service} service", profiles=[s.profile])


@task
def status(c: Context) -> None:
    """State, health, uptime, restart policy and scheduler of the background worker (from Docker and Compose)."""
    from tasks.drivers import handover, stack_facts
    from tasks.drivers.compose import Compose
    from tasks.knowledge import status_view
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    containers = compose.containers(s.service)
    try:
        config = stack_facts.load(compose).service(s.service)
    except UserError as error:  # status still shows what Docker knows
        print(f"note: {error.reason}")
        config = None
    inspected = stack_facts.inspect_containers([ct.name for ct in containers])
    print(status_view.render(s.service, containers, config=config, inspected=inspected, scheduler_var=s.scheduler_var))
    note = handover.describe(compose)
    if note:
        print(note)


ns = Collection("worker", up, down, logs, restart, status)
