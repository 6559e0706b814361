"""`inv worker.*`: the background worker container (compose profile `worker`).

These replace the package.json scripts `worker:up`, `worker:down`, `worker:logs`, `worker:restart`.
"""
from __future__ import annotations

from invoke import Collection, task

from tasks import app, engine, handover, statusview
from tasks.compose import Compose
from tasks.failures import UserError
from tasks.runner import INTERRUPTED
from tasks.settings import display, settings


#: Label of the worker image naming the build of dist/ it holds (see apps/worker/Dockerfile).
FINGERPRINT_LABEL = "dev.devstack.dist-fingerprint"


def image_outdated(compose: Compose, fingerprint: str | None) -> bool:
    """Does the worker image hold another build than dist/? (A missing image is built by `up` anyway.)"""
    if fingerprint is None:
        return False
    label = engine.image_label(compose.worker_image(), FINGERPRINT_LABEL)
    return label is not None and label != fingerprint


def image_plan(compose: Compose, build: bool) -> tuple[bool, dict[str, str]]:
    """Whether `up` must rebuild the worker image, and the variables its build needs.

    The image is rebuilt when asked or when it holds another build than dist/ on disk, so the
    container never runs a stale build.
    """
    s = compose.settings
    fingerprint = app.dist_fingerprint(s)
    if not build and image_outdated(compose, fingerprint):
        print(f"note: the {s.service} image holds another build than {display(s.dist_main.parent, s.root)}/; "
              "rebuilding it", flush=True)
        build = True
    return build, ({"DIST_FINGERPRINT": fingerprint} if fingerprint else {})


def start_worker(compose: Compose, *, build: bool = False, files: list[str] | None = None,
                 extra_env: dict[str, str] | None = None, what: str = "") -> None:
    """`up -d` the worker: also recreates it when it was removed, and starts postgres/redis first."""
    s = compose.settings
    build, build_env = image_plan(compose, build)
    args = ["up", "-d"] + (["--build"] if build else []) + [s.service]
    compose.check(*args, what=what or f"starting the {s.service} service", profiles=[s.profile],
                  files=files, extra_env={**(extra_env or {}), **build_env})


@task(help={"build": "Build the app (npm run build) and rebuild the image before starting."})
def up(c, build=False):
    """Start the background worker (and postgres/redis); it comes back whenever Docker starts."""
    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "worker.up")
    handover.recover_stale(compose)
    if build:
        app.build(s)
    else:
        app.require_dist(s, allow_stale=True)
    start_worker(compose, build=build)


@task(help={"rm": "Also remove the container (the next worker.up creates a new one)."})
def down(c, rm=False):
    """Stop the background worker gracefully; the container is kept unless --rm."""
    s = settings(c)
    compose = Compose(s)
    handover.forget_restore(compose)
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
def logs(c, follow=False, tail=None, since=None):
    """Show the background worker's logs."""
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
def restart(c):
    """Restart the background worker container (to apply config changes, use worker.up)."""
    s = settings(c)
    compose = Compose(s)
    handover.refuse_if_active(compose, "worker.restart")
    if not compose.ps(s.service):
        raise UserError(f"there is no {s.service} container to restart: start it with `inv worker.up`")
    compose.check("restart", s.service, what=f"restarting the {s.service} service", profiles=[s.profile])


@task
def status(c):
    """State, health, uptime, restart policy and scheduler of the background worker."""
    s = settings(c)
    compose = Compose(s)
    containers = compose.ps(s.service)
    print(statusview.render(s.service, containers))
    note = handover.describe(compose)
    if note:
        print(note)


ns = Collection("worker", up, down, logs, restart, status)
