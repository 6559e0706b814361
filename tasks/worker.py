"""`inv worker.*`: the background worker containers (each behind its compose profile).

These replace the package.json scripts `worker:up`, `worker:down`, `worker:logs`, `worker:restart`.
Each task acts on every worker listed in invoke.yaml, or on the one named: `inv worker.up email`.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from tasks.cli_args import optional_positional

NAME_HELP = (
    "The worker: a name from invoke.yaml's `workers` (or its service), given as `--name NAME` or just NAME "
    "(`inv worker.up email`); all of them when left out."
)


@task(
    positional=["name"],
    help={
        "name": NAME_HELP,
        "build": "Build the app and rebuild the image before starting (host-built: the app's build command, "
        "then the image; image-built: the image, whose Dockerfile builds the app).",
    },
)
def up(c: Context, name: str | None = None, build: bool = False) -> None:
    """Start the background worker(s) (and their dependencies); they come back whenever Docker starts."""
    from tasks.drivers import handover, host_app, worker_service, workers
    from tasks.drivers.compose import Compose

    for s in workers.select(c, name):
        compose = Compose(s)
        handover.refuse_if_active(compose, "worker.up")
        handover.recover_stale(compose)
        worker_service.note_leaving_prodlike(compose, "worker.up")
        if build:
            host_app.build(s)
        else:
            host_app.require_dist(s, allow_stale=True)
        worker_service.start_worker(compose, build=build)


@task(
    positional=["name"],
    help={"name": NAME_HELP, "rm": "Also remove the container (the next worker.up creates a new one)."},
)
def down(c: Context, name: str | None = None, rm: bool = False) -> None:
    """Stop the background worker(s) gracefully; the containers are kept unless --rm."""
    from tasks.drivers import handover, workers
    from tasks.drivers.compose import Compose

    for s in workers.select(c, name):
        compose = Compose(s)
        handover.forget_restore(compose, "worker.down")
        compose.check("stop", s.service, what=f"stopping the {s.service} service")
        if rm:
            compose.check("rm", "--force", s.service, what=f"removing the {s.service} container")


@task(
    positional=["name"],
    help={
        "name": NAME_HELP,
        "follow": "Keep streaming new lines (Ctrl+C ends it).",
        "tail": "Show only the last N lines.",
        "since": "Only lines since a time: a timestamp or a duration like 10m.",
    },
)
def logs(
    c: Context, name: str | None = None, follow: bool = False, tail: str | None = None, since: str | None = None
) -> None:
    """Show the background worker's logs (every worker's, interleaved, unless one is named)."""
    from tasks.drivers import workers
    from tasks.drivers.compose import Compose
    from tasks.drivers.process import INTERRUPTED
    from tasks.knowledge.failures import UserError

    chosen = workers.select(c, name)
    compose = Compose(chosen[0])
    args = ["logs"]
    if follow:
        args.append("--follow")
    if tail is not None:
        if not str(tail).isdigit() and str(tail) != "all":
            raise UserError(f"--tail takes a number of lines or `all`, not {tail!r}")
        args += ["--tail", str(tail)]
    if since:
        args += ["--since", str(since)]
    services = [s.service for s in chosen]
    compose.check(*args, *services, what=f"reading the {', '.join(services)} logs", ok_codes=(0, INTERRUPTED))


@task(positional=["name"], help={"name": NAME_HELP})
def restart(c: Context, name: str | None = None) -> None:
    """Restart the background worker container(s) (to apply config changes, use worker.up)."""
    from tasks.drivers import handover, workers
    from tasks.drivers.compose import Compose
    from tasks.knowledge.failures import UserError

    chosen = workers.select(c, name)
    for s in chosen:
        handover.refuse_if_active(Compose(s), "worker.restart")
    for s in chosen:
        compose = Compose(s)
        if not compose.containers(s.service):
            if name or len(chosen) == 1:
                raise UserError(f"there is no {s.service} container to restart: start it with `inv worker.up`")
            print(f"{s.service}: no container to restart (start it with `inv worker.up {s.worker_name}`)")
            continue
        compose.check("restart", s.service, what=f"restarting the {s.service} service", profiles=[s.profile])


@task(positional=["name"], help={"name": NAME_HELP})
def status(c: Context, name: str | None = None) -> None:
    """State, health, uptime, restart policy and scheduler of the background worker(s) (from Docker and Compose)."""
    from tasks.drivers import handover, stack_facts, workers
    from tasks.drivers.compose import Compose
    from tasks.knowledge import status_view
    from tasks.knowledge.failures import UserError

    for index, s in enumerate(workers.select(c, name)):
        if index:
            print()
        compose = Compose(s)
        containers = compose.containers(s.service)
        try:
            config = stack_facts.load(compose).service(s.service)
        except UserError as error:  # status still shows what Docker knows
            print(f"note: {error.reason}")
            config = None
        inspected = stack_facts.inspect_containers(compose.gateway, [ct.name for ct in containers])
        print(
            status_view.render(s.service, containers, config=config, inspected=inspected, scheduler_var=s.scheduler_var)
        )
        note = handover.describe(compose)
        if note:
            print(note)


for _task in ("up", "down", "logs", "restart", "status"):
    optional_positional(f"worker.{_task}")

ns = Collection("worker", up, down, logs, restart, status)
