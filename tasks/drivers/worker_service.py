"""Starting the background worker service: `up -d`, rebuilding its image when it holds another build."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.drivers import engine, host_app, process
from tasks.drivers.compose import Compose
from tasks.knowledge.settings import display

if TYPE_CHECKING:
    from tasks.drivers.handover import Record

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
    fingerprint = host_app.dist_fingerprint(s)
    if not build and image_outdated(compose, fingerprint):
        print(
            f"note: the {s.service} image holds another build than {display(s.dist_main.parent, s.root)}/; "
            "rebuilding it",
            flush=True,
        )
        build = True
    return build, ({"DIST_FINGERPRINT": fingerprint} if fingerprint else {})


def start_worker(
    compose: Compose,
    *,
    build: bool = False,
    files: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    what: str = "",
) -> None:
    """`up -d` the worker: also recreates it when it was removed, and starts postgres/redis first."""
    s = compose.settings
    build, build_env = image_plan(compose, build)
    args = ["up", "-d"] + (["--build"] if build else []) + [s.service]
    compose.check(
        *args,
        what=what or f"starting the {s.service} service",
        profiles=[s.profile],
        files=files,
        extra_env={**(extra_env or {}), **build_env},
    )


def prodlike_restore(compose: Compose) -> tuple[list[str] | None, dict[str, str] | None]:
    """How to bring the running worker back as it is: for a prod-like worker the compose files with
    the override and the variables of the plan recorded on it; (None, None) for a normal worker."""
    from tasks.knowledge.heap_plan import PlanError
    from tasks.knowledge.prodlike_labels import compose_env, plan_from_labels

    s = compose.settings
    for container in compose.ps(s.service):
        if not container.running:
            continue
        try:
            plan = plan_from_labels(container.labels)
        except PlanError:
            plan = None  # unreadable labels: the normal worker is the safe way back
        if plan is not None:
            return [*compose.files(), s.prodlike_file], compose_env(plan)
    return None, None


def restore_worker(compose: Compose, record: Record) -> process.Completed:
    """`up -d` the worker as the handover record says it was (prod-like with its plan, or normal);
    output captured, so a Ctrl+C meant for a dev worker cannot cut it short."""
    s = compose.settings
    return compose.run(
        "up",
        "-d",
        s.service,
        capture=True,
        profiles=[s.profile],
        files=record.restore_files,
        extra_env=record.restore_env,
    )


def note_leaving_prodlike(compose: Compose, action: str) -> None:
    """One line when `action` replaces a prod-like worker by the normal one."""
    from tasks.knowledge.prodlike_labels import is_prodlike, mode_text

    for container in compose.ps(compose.settings.service):
        if container.running and is_prodlike(container.labels):
            print(
                f"note: the {compose.settings.service} runs in {mode_text(container.labels)}; {action} recreates "
                "it as the normal worker (caps and heap plan gone; `inv prodlike.up` to go back)",
                flush=True,
            )
            return
