"""`inv stack.*`: the whole stack (postgres, redis and the background worker) at once."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task


@task(
    help={
        "build": "Build the app and rebuild the worker image first.",
        "recreate": "Let Compose re-create a running Redis whose configuration changed (e.g. a port the "
        "collection's override publishes) even though it keeps nothing on disk: the keys it holds, the queue's jobs "
        "among them, are lost. Without it, that is refused (other services are re-created, said first).",
    }
)
def up(c: Context, build: bool = False, recreate: bool = False) -> None:
    """Start the stack and every background worker, and wait until they are healthy.

    The stack is the services of the compose files."""
    from .drivers import handover, host_app, ports, recreate_loss, stack_facts, stack_up, worker_service, workers
    from .drivers import recreate as worker_recreate  # (`recreate` is the flag)
    from .drivers.compose import Compose
    from .drivers.handover import restore
    from .drivers.worker_service import image_plan
    from .knowledge import compose_cli
    from .knowledge.failures import UserError

    chosen = workers.select(c, None)
    composes = [Compose(s) for s in chosen]
    for each in composes:
        handover.refuse_if_active(each, "stack.up")
    for each in composes:
        restore.recover_stale(each)
        worker_service.note_leaving_prodlike(each, "stack.up")
    build_env: dict[str, str] = {}
    rebuild = build
    for s, each in zip(chosen, composes, strict=True):
        if build:
            host_app.build(s, pulled=worker_service.build_inputs(each) is None)
        else:
            host_app.require_dist(s, allow_stale=True)
        worker_build, env = image_plan(each, build)
        rebuild = rebuild or worker_build
        build_env.update(env)
    compose = composes[0]
    profiles = compose_cli.active_profiles(compose.env, [s.profile for s in chosen])
    stack = stack_facts.load(compose)
    services = stack.enabled(profiles)
    ports.check_free(compose, services, stack)
    build = rebuild
    worker_services = {s.service for s in chosen}
    recreate_loss.check(
        compose,
        [name for name in services if name not in worker_services],  # a worker's re-creation is what up is for
        task="stack.up",
        accept=recreate,
        accept_hint="`inv stack.up --recreate`",
        profiles=profiles,
        extra_env=build_env,
    )
    for s, each in zip(chosen, composes, strict=True):
        # `up` would re-create a running worker whose configuration or image changed, stopping it by
        # SIGTERM to PID 1 only: stop it consumer-first before (a build first, while it still serves).
        running = [ct for ct in each.containers(s.service) if ct.running]
        if running and build:
            each.check(
                "build", s.service, what=f"building the {s.service} image", profiles=[s.profile], extra_env=build_env
            )
        worker_recreate.stop_if_recreated(each, extra_env=build_env, containers=running)
    before = stack_up.baseline(compose)
    try:
        done = stack_up.up_wait(
            compose,
            stack,
            services,
            ["--build"] if build else [],
            profiles=profiles,
            extra_env=build_env,
            before=before,
        )
    except UserError as error:
        raise ports.explain_failed_up(compose, services, error) from None
    for name in done.finished if done else ():
        print(f"{name}: finished (exit code 0)")
    # `up --wait` takes a container without a healthcheck as up once it runs: a crash loop passes it.
    stack_up.require_no_crash_loop(compose, [s for s in services if s not in (done.finished if done else ())], before)
    for each in composes:
        worker_service.require_ready(each, "starting the stack")


@task(help={"volumes": "Also delete the named volumes (the Postgres data)."})
def down(c: Context, volumes: bool = False) -> None:
    """Remove the project's containers and network, the profiled worker included."""
    from .drivers import container_stop, handover, job_fate, recreate_loss, workers
    from .drivers.compose import Compose

    composes = [Compose(s) for s in workers.select(c, None)]
    for each in composes:
        handover.forget_restore(each, "stack.down", whole_stack=True)
    # A Redis whose keys go with its container takes the queues' jobs with it: said first, and a job
    # the stop cuts is then not promised a retry.
    losses, redis = recreate_loss.down_losses(composes[0], volumes)
    for name, why in losses.items():
        print(f"note: stack.down removes {name} with its keys, so the jobs in its queues are lost: {why}", flush=True)
    redis_goes = bool(redis) and set(redis) <= set(losses)
    for each in composes:  # each worker stopped as worker.down does (its consumers first), then the rest
        # while Redis still runs: its jobs in flight, finished or cut
        with job_fate.around_stop(each, print, redis_goes=redis_goes):
            container_stop.stop_worker(each, fail=f"stopping the {each.settings.service} service", only_running=True)
    compose = composes[0]
    # A plain `down` skips services of inactive profiles (the worker keeps running and the network
    # cannot be removed): the `*` profile enables them all.
    compose.check(
        "down",
        "--remove-orphans",
        *(["--volumes"] if volumes else []),
        what="taking the stack down",
        profiles=["*"],
    )


ns = Collection("stack", up, down)
