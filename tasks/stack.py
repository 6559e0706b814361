"""`inv stack.*`: the whole stack (postgres, redis and the background worker) at once."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task


@task(help={"build": "Build the app and rebuild the worker image first."})
def up(c: Context, build: bool = False) -> None:
    """Start postgres, redis and the background worker, waiting until they are healthy."""
    from tasks.drivers import handover, host_app, ports, stack_facts, worker_service
    from tasks.drivers.compose import Compose
    from tasks.drivers.worker_service import image_plan
    from tasks.knowledge import compose_cli
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "stack.up")
    handover.recover_stale(compose)
    worker_service.note_leaving_prodlike(compose, "stack.up")
    if build:
        host_app.build(s)
    else:
        host_app.require_dist(s, allow_stale=True)
    profiles = compose_cli.active_profiles(compose.env, [s.profile])
    stack = stack_facts.load(compose)
    services = stack.enabled(profiles)
    ports.check_free(compose, services, stack)
    build, build_env = image_plan(compose, build)
    try:
        compose.check(
            "up",
            "-d",
            "--wait",
            *(["--build"] if build else []),
            what="starting the stack",
            profiles=profiles,
            extra_env=build_env,
        )
    except UserError as error:
        worker_service.show_last_logs(compose)  # `--wait` fails on a worker that crashes at start
        raise ports.explain_failed_up(compose, services, error) from None
    worker_service.require_ready(compose, "starting the stack")


@task(help={"volumes": "Also delete the named volumes (the Postgres data)."})
def down(c: Context, volumes: bool = False) -> None:
    """Remove every container and the network of the project, the profiled worker included."""
    from tasks.drivers import handover
    from tasks.drivers.compose import Compose
    from tasks.knowledge.settings import settings

    s = settings(c)
    compose = Compose(s)
    handover.forget_restore(compose, "stack.down")
    # A plain `down` skips services of inactive profiles (the worker keeps running and the network
    # cannot be removed): the `*` profile enables them all.
    compose.check(
        "down", "--remove-orphans", *(["--volumes"] if volumes else []), what="taking the stack down", profiles=["*"]
    )


ns = Collection("stack", up, down)
