"""`inv worker.*`: the background worker containers (each behind its compose profile).

These replace the package.json scripts `worker:up`, `worker:down`, `worker:logs`, `worker:restart`.
Each task acts on every worker listed in invoke.yaml, or on the one named: `inv worker.up email`.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from .cli_args import optional_positional

NAME_HELP = (
    "The worker: a name from invoke.yaml's `workers` (or its service), as a word after the task "
    "(`inv worker.up email`) or `-n NAME` / `--name NAME` (needed when the name is also a task's); "
    "every worker when left out."
)

RECREATE_HELP = (
    "Let Compose re-create a running Redis whose configuration changed (e.g. a port the collection's "
    "override publishes) even though it keeps nothing on disk: the keys it holds, the queue's jobs among them, "
    "are lost. Without it, that is refused (other services are re-created, said first)."
)


@task(
    positional=["name"],
    help={
        "name": NAME_HELP,
        "build": "Build the app and rebuild the image before starting (host-built: the app's build command, "
        "then the image; image-built: the image, whose Dockerfile builds the app).",
        "recreate": RECREATE_HELP,
    },
)
def up(c: Context, name: str | None = None, build: bool = False, recreate: bool = False) -> None:
    """Start the background worker(s) and their dependencies.

    They come back whenever Docker starts."""
    import sys

    from .drivers import handover, host_app, worker_service, workers
    from .drivers.compose import Compose
    from .drivers.handover import restore
    from .knowledge.failures import UserError

    selected = workers.select(c, name)
    failed: list[str] = []
    for s in selected:
        compose = Compose(s)
        try:
            handover.refuse_if_active(compose, "worker.up")
            restore.recover_stale(compose)
            containers = compose.containers()  # the project's, once: for the checks below and the no-op test
            worker_service.note_leaving_prodlike(compose, "worker.up", containers)
            if build:
                host_app.build(s, pulled=worker_service.build_inputs(compose) is None)
            else:
                host_app.require_dist(s, allow_stale=True)
            worker_service.start_worker(
                compose, build=build, containers=containers, may_skip=True, stop_on_failure=True, recreate=recreate
            )
        except UserError as error:
            if len(selected) == 1:
                raise
            # One worker failing does not keep the others from starting: each one's line, then a summary.
            print(f"{s.worker_name}: {error.reason}", file=sys.stderr, flush=True)
            failed.append(s.worker_name)
    if failed:
        raise UserError(f"{len(failed)} of {len(selected)} workers did not start: {', '.join(failed)} (lines above)")


@task(
    positional=["name"],
    help={"name": NAME_HELP, "rm": "Also remove the container (the next worker.up creates a new one)."},
)
def down(c: Context, name: str | None = None, rm: bool = False) -> None:
    """Stop the background worker(s) gracefully; the containers are kept unless --rm."""
    from .drivers import container_stop, handover, job_fate, workers
    from .drivers.compose import Compose

    for s in workers.select(c, name):
        compose = Compose(s)
        handover.forget_restore(compose, "worker.down")
        with job_fate.around_stop(compose, print):  # one line: its jobs in flight finished, or cut (ids)
            container_stop.stop_worker(compose, fail=f"stopping the {s.service} service")
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
    """Show the logs of the background workers, interleaved, or of the one named."""
    from .drivers import workers
    from .drivers.compose import Compose
    from .drivers.process import INTERRUPTED
    from .knowledge.failures import UserError

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
    """Restart the background worker container(s); worker.up applies config changes."""
    from .drivers import container_stop, handover, job_fate, workers
    from .drivers.compose import Compose
    from .knowledge.failures import UserError

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
        # Stop (the consumers first, as worker.down does), then start: a restart's stop is said as truly.
        with job_fate.around_stop(compose, print):
            container_stop.stop_worker(compose, fail=f"restarting the {s.service} service", restart=True)


@task(
    positional=["name"],
    help={
        "name": NAME_HELP,
        "json": "Print one JSON document instead of text (keys: docs/json.md); the same exit code.",
    },
)
def status(c: Context, name: str | None = None, json: bool = False) -> None:
    """Show the worker(s): state, health, uptime, restart policy, scheduler, queues.

    Read from Docker and Compose, for the background worker(s); per queue on its Redis: waiting,
    active, delayed and failed jobs and who consumes it (a container, or the dev worker)."""
    from .drivers import worker_status

    gather = worker_status.ask(c, name)  # Docker answers while the rest is read
    from .knowledge import status_view

    if json:
        from .drivers import json_out

        json_out.emit("worker.status", lambda: (True, {"workers": gather()}))
        return
    print("\n\n".join(status_view.render_worker(entry) for entry in gather()))


for _task in ("up", "down", "logs", "restart", "status"):
    optional_positional(f"worker.{_task}")

ns = Collection("worker", up, down, logs, restart, status)
