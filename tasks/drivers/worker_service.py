"""Starting the background worker service: `up -d`, rebuilding its image when it holds another build."""

from __future__ import annotations

from tasks.drivers import engine, host_app
from tasks.drivers.compose import Compose
from tasks.knowledge.settings import display

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
    from tasks.drivers import ports
    from tasks.knowledge.failures import UserError

    s = compose.settings
    ports.check_free(compose, [s.service])
    build, build_env = image_plan(compose, build)
    args = ["up", "-d"] + (["--build"] if build else []) + [s.service]
    try:
        compose.check(
            *args,
            what=what or f"starting the {s.service} service",
            profiles=[s.profile],
            files=files,
            extra_env={**(extra_env or {}), **build_env},
        )
    except UserError as error:
        raise ports.explain_failed_up(compose, [s.service], error) from None
