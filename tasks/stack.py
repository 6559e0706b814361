"""`inv stack.*`: the whole stack (postgres, redis and the background worker) at once."""
from __future__ import annotations

from invoke import Collection, task

from tasks import app, composecli, handover
from tasks.compose import Compose
from tasks.settings import settings
from tasks.worker import image_plan


@task(help={"build": "Build the app and rebuild the worker image first."})
def up(c, build=False):
    """Start postgres, redis and the background worker, waiting until they are healthy."""
    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "stack.up")
    handover.recover_stale(compose)
    if build:
        app.build(s)
    else:
        app.require_dist(s, allow_stale=True)
    profiles = composecli.active_profiles(compose.env, [s.profile])
    build, build_env = image_plan(compose, build)
    compose.check("up", "-d", "--wait", *(["--build"] if build else []), what="starting the stack", profiles=profiles,
                  extra_env=build_env)


@task(help={"volumes": "Also delete the named volumes (the Postgres data)."})
def down(c, volumes=False):
    """Remove every container and the network of the project, the profiled worker included."""
    s = settings(c)
    compose = Compose(s)
    handover.forget_restore(compose)
    # A plain `down` skips services of inactive profiles (the worker keeps running and the network
    # cannot be removed): the `*` profile enables them all.
    compose.check("down", "--remove-orphans", *(["--volumes"] if volumes else []),
                  what="taking the stack down", profiles=["*"])


ns = Collection("stack", up, down)
