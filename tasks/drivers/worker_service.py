"""Starting the background worker service: `up -d`, rebuilding its image when it holds another build."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ..drivers import engine, host_app, progress
from ..drivers.compose import Compose
from ..knowledge import readiness
from ..knowledge.failures import UserError
from ..knowledge.settings import Settings, display

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from ..knowledge.build_context import BuildInputs
    from ..knowledge.compose_cli import ContainerState

#: Label of the worker image naming the build of dist/ it holds (see apps/worker/Dockerfile).
FINGERPRINT_LABEL = "dev.devstack.dist-fingerprint"
#: Label of an image that builds the app itself: the fingerprint of the sources it was built from.
SOURCE_LABEL = "dev.devstack.source-fingerprint"
#: A readiness wait longer than this says what it waits for (a long healthcheck interval, a slow start).
WAIT_SAID_AFTER_S = 2.0
#: What an image built without the tasks' build argument carries (the Dockerfile's ARG default).
UNKNOWN_LABELS = ("", "unknown", "<no value>")


def label_name(s: Settings) -> str:
    return FINGERPRINT_LABEL if s.build_mode == "host" else SOURCE_LABEL


def worker_image(compose: Compose) -> str:
    """The worker service's image as Compose resolves it (`image:`, else `<project>-<service>`)."""
    from ..drivers import stack_facts

    s = compose.settings
    try:
        service = stack_facts.load(compose).service(s.service)
    except UserError:
        service = None
    if service is not None:
        return service.image or f"{compose.project_name}-{s.service}"
    return compose.worker_image()


def image_outdated(compose: Compose, fingerprint: str | None) -> bool:
    """Does the worker image hold another build than the one on disk? Unknown (no image, no label of
    ours) is not outdated: a missing image is built by `up` anyway, an unlabelled one is left alone."""
    if fingerprint is None:
        return False
    image = worker_image(compose)
    found = engine.image_id_and_label(compose.gateway, image, label_name(compose.settings))
    if found is None:
        return False
    image_id, label = found
    if label in UNKNOWN_LABELS:
        _note_unlabelled_once(compose, image, image_id)
        return False
    return label != fingerprint


def _note_unlabelled_once(compose: Compose, image: str, image_id: str) -> None:
    """Say once per image that its staleness cannot be told (and so it is not rebuilt on every up)."""
    s = compose.settings
    marker = compose.worker_state_dir / "unlabelled-image"
    try:
        if marker.read_text(encoding="utf-8").strip() == image_id:
            return
    except OSError:
        pass
    name = s.worker_name or s.service
    print(
        f"note: the {s.service} image ({image}) has no {label_name(s)} label, so whether it is up to date "
        f"is unknown; it is not rebuilt automatically (`inv worker.up {name} --build` rebuilds it, "
        "`inv doctor` says how to label it). Said once per image.",
        flush=True,
    )
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(image_id, encoding="utf-8")
    except OSError:
        pass


def build_inputs(compose: Compose) -> BuildInputs | None:
    """The worker service's build context, Dockerfile and target, as Compose resolves them (None: no build)."""
    from pathlib import Path

    from ..drivers import stack_facts
    from ..knowledge.build_context import BuildInputs

    try:
        raw = (stack_facts.config_json(compose).get("services") or {}).get(compose.settings.service) or {}
    except UserError:
        return None
    build = raw.get("build") if isinstance(raw, dict) else None
    if not isinstance(build, dict) or not build.get("context"):
        return None
    context = Path(str(build["context"]))
    dockerfile = Path(str(build.get("dockerfile") or "Dockerfile"))
    target = build.get("target")
    raw_args = build.get("args")
    args = {str(k): str(v) for k, v in raw_args.items() if v is not None} if isinstance(raw_args, dict) else {}
    return BuildInputs(
        context,
        dockerfile if dockerfile.is_absolute() else context / dockerfile,
        str(target) if target else None,
        tuple(sorted(args.items())),
    )


def image_plan(compose: Compose, build: bool) -> tuple[bool, dict[str, str]]:
    """Whether `up` must rebuild the worker image, and the variables its build needs.

    The image is rebuilt when asked, or when its label says it holds another build of dist/ (a
    host-built worker) or was built from other sources (a worker built in its image), so the
    container never runs a stale build.
    """
    fingerprint = _fingerprint(compose)
    return _rebuild(compose, build, fingerprint), _build_env(compose, fingerprint)


def _fingerprint(compose: Compose) -> str | None:
    """The build the worker image should hold; None when Compose builds no image for the service (a
    pulled image, a stock image running mounted sources): no build to compare, nothing `--build` rebuilds."""
    s = compose.settings
    inputs = build_inputs(compose)
    if inputs is None:
        return None
    return host_app.image_fingerprint(s, inputs if s.build_mode == "image" else None)


def _build_env(compose: Compose, fingerprint: str | None) -> dict[str, str]:
    return {host_app.fingerprint_var(compose.settings): fingerprint} if fingerprint else {}


def _rebuild(compose: Compose, build: bool, fingerprint: str | None) -> bool:
    s = compose.settings
    if not build and image_outdated(compose, fingerprint):
        what = f"{display(s.dist_main.parent, s.root)}/" if s.build_mode == "host" else "its sources"
        print(f"note: the {s.service} image holds another build than {what}; rebuilding it", flush=True)
        build = True
    return build


def _image_ids(compose: Compose, images: dict[str, str]) -> dict[str, str]:
    """The id each service's image tag points at now, in one `docker image inspect` ({} on failure)."""
    names = list(dict.fromkeys(images.values()))
    result = compose.gateway.docker("image", "inspect", "--format", "{{.Id}}", *names)
    ids = result.stdout.split() if result.ok else []
    if len(ids) != len(names):
        return {}
    by_name = dict(zip(names, ids, strict=True))
    return {service: by_name[image] for service, image in images.items()}


#: What the no-op check found: why `up -d` runs (None: it would change nothing), and the config
#: hashes and image ids it asked (reused to tell whether that `up` re-creates the running worker).
NoopAnswer = tuple[str | None, dict[str, str], dict[str, str]]


def _why_not_noop(
    compose: Compose, containers: list[ContainerState], env: dict[str, str], pool: Executor
) -> Future[NoopAnswer]:
    """Ask, in parallel with the image check, whether `up -d` would change anything (None: no)."""
    from ..drivers import stack_facts
    from ..knowledge.up_noop import dependency_conditions, why_not_noop

    s = compose.settings
    try:
        services = stack_facts.config_json(compose).get("services") or {}
    except UserError:
        services = {}
    dependencies = dependency_conditions(services, s.service) if isinstance(services, dict) else None
    if dependencies is None:
        done: Future[NoopAnswer] = Future()
        done.set_result(("the configuration could not be read", {}, {}))
        return done
    chain = [s.service, *dependencies]
    images = {name: str((services.get(name) or {}).get("image") or f"{compose.project_name}-{name}") for name in chain}
    policies = {name: str((services.get(name) or {}).get("pull_policy") or "") for name in chain}
    hashes = pool.submit(stack_facts.config_hashes, compose, chain, [s.profile], env)
    image_ids = pool.submit(_image_ids, compose, images)

    def decide() -> NoopAnswer:
        reason = why_not_noop(
            s.service,
            containers=containers,
            hashes=hashes.result(),
            image_ids=image_ids.result(),
            dependencies=dependencies,
            pull_policies=policies,
        )
        return reason, hashes.result(), image_ids.result()

    return pool.submit(decide)


def start_worker(
    compose: Compose,
    *,
    build: bool = False,
    files: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    what: str = "",
    containers: list[ContainerState] | None = None,
    may_skip: bool = False,
    stop_on_failure: bool = False,
    recreate: bool = False,
    task: str = "worker.up",
    accept_hint: str = "`inv worker.up --recreate`",
) -> None:
    """`up -d` the worker, then wait until it is ready: a worker that crashes at start is an error
    (with ``stop_on_failure``, stopped first rather than left restarting under its restart policy).

    `up -d` also recreates a removed container and starts postgres/redis first. ``containers``: the
    project's containers when the caller has just listed them. With ``may_skip`` (a plain
    `worker.up`: no --build, no other files or variables), `up -d` is skipped when it would change
    nothing: the worker runs healthy from Compose's current configuration hash and the image its
    tag names now, and so do its dependencies (see `tasks.knowledge.up_noop`).

    When `up -d` would re-create the running worker (its configuration or image changed, prod-like
    on or off), it is stopped consumer-first before (`tasks.drivers.recreate`); a build asked of a
    running worker is made before that (`compose build`), so the worker serves during the build and
    the new image is known. Before that, the running dependencies `up` would re-create are named, and
    a Redis among them whose keys would be lost is refused unless ``recreate`` (``accept_hint`` names
    the flag; `tasks.drivers.recreate_loss`).
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..drivers import ports, recreate_loss, stack_facts, stack_up
    from ..drivers import recreate as worker_recreate  # (`recreate` is the flag)

    s = compose.settings
    skip_asked = may_skip and not build and files is None and not extra_env
    listing = compose.containers() if containers is None and skip_asked else containers
    ports.check_free(compose, [s.service], containers=listing)
    fingerprint = _fingerprint(compose)
    build_env = _build_env(compose, fingerprint)
    with ThreadPoolExecutor(max_workers=3) as pool:  # independent questions to Docker, asked at once
        noop = _why_not_noop(compose, listing, build_env, pool) if skip_asked and listing is not None else None
        build = _rebuild(compose, build, fingerprint)
        asked = noop.result() if noop is not None else None
        skip = asked is not None and asked[0] is None and not build
    what = what or f"starting the {s.service} service"
    if skip:
        worker = next(ct for ct in listing or [] if ct.service == s.service)
        print(f"{s.service}: already running with this configuration (image and dependencies unchanged)", flush=True)
        if worker.health == "healthy":
            return  # ready: its healthcheck passes (the readiness wait would say the same at once)
        require_ready(compose, what, stop_on_failure=stop_on_failure)
        return
    dependencies = [name for name in stack_facts.load(compose).with_dependencies([s.service]) if name != s.service]
    recreate_loss.check(
        compose,
        dependencies,
        task=task,
        accept=recreate,
        accept_hint=accept_hint,
        profiles=[s.profile],
        extra_env={**(extra_env or {}), **build_env},
        hashes=asked[1] if asked else None,  # the no-op check's answer, when it asked
    )
    env = {**(extra_env or {}), **build_env}
    mine = [ct for ct in (compose.containers(s.service) if listing is None else listing) if ct.service == s.service]
    if any(ct.running for ct in mine):
        if build:  # built while the worker still serves; `up` then finds the new image (or the same)
            compose.check(
                "build",
                s.service,
                what=f"building the {s.service} image",
                files=files,
                profiles=[s.profile],
                extra_env=env,
            )
            build, asked = False, None  # the image ids asked before the build are stale
        worker_recreate.stop_if_recreated(
            compose,
            files=files,
            extra_env=env,
            containers=mine,
            config_hash=asked[1].get(s.service, "") if asked else "",
            image=asked[2].get(s.service, "") if asked else "",
            prodlike=bool(files) and s.prodlike_file in (files or []),
        )
    args = ["up", "-d"] + (["--build"] if build else []) + [s.service]
    before = stack_up.baseline(compose)  # a dependency in a crash loop fails the start too
    try:
        compose.check(*args, what=what, profiles=[s.profile], files=files, extra_env=env)
    except UserError as error:
        raise ports.explain_failed_up(compose, [s.service], error) from None
    require_ready(compose, what, stop_on_failure=stop_on_failure)
    if dependencies:
        stack_up.require_no_crash_loop(compose, dependencies, before, what=what)


def wait_ready(
    compose: Compose,
    *,
    timeout: float = 90.0,
    consumer_ends: bool = False,
    ready: Callable[[str], None] | None = None,
) -> str | None:
    """Wait until the worker container is ready; None, or why not (its last log lines already shown).

    Ready means healthy when the service has a healthcheck (ours reflects the worker's own
    readiness: connected and consuming); without one, a queue consumer of the container in Redis
    within `worker.consume_within` (container readiness, up a moment without a restart, where that
    is `never` or Redis cannot be found or read: said once). With ``consumer_ends`` (a dev session's
    restore) a consumer ends the wait even when there is a healthcheck: the queue is served. See
    `tasks.knowledge.readiness`. ``ready`` is told how it was found ready (`it consumes its queue`).
    """
    from ..drivers.ready_consumers import ConsumerProbe

    s = compose.settings
    containers = compose.containers(s.service)
    if not containers:
        return f"no {s.service} container was created"
    name = containers[0].name
    bound = s.current.consume_within
    begin = time.monotonic()
    running_since: float | None = None
    started_restarts: int | None = None
    probe: ConsumerProbe | None = None  # looked up only when the first look does not find it ready
    fallback_said = False
    wait = progress.ReadinessWait(s.service, name, compose.gateway)  # one line on stderr once the wait lasts over 2 s
    while True:
        details = engine.inspect(compose.gateway, name)
        state, restarts = dict(details["State"]), int(details.get("RestartCount") or 0)
        if started_restarts is None:  # the baseline: any restart after this one is a crash
            started_restarts = restarts
        now = time.monotonic()
        running = state.get("Status") == "running"
        running_since = (running_since or now) if running else None
        up_for = max(now - (running_since or now), readiness.up_for_s(state, time.time()) if running else 0.0)
        consumers: readiness.Consumers | None = None
        watched = ""
        if bound is not None and running and (consumer_ends or not state.get("Health")):
            addresses = readiness.container_addresses(details)
            if probe is None and addresses:
                probe = ConsumerProbe(compose).start()
            consuming = probe.consuming(addresses) if probe is not None else None
            if consuming is not None:
                consumers = readiness.Consumers(consuming, probe.where if probe else "", bound, consumer_ends)
                watched = "either" if state.get("Health") else "required"
            elif probe is not None and probe.looking:
                watched = "either" if state.get("Health") else "required"
                if not state.get("Health"):
                    consumers = readiness.Consumers(False, "", float("inf"), consumer_ends)  # not judged yet
            elif not fallback_said and not state.get("Health"):
                fallback_said = True
                why = probe.why_not if probe is not None else "its container has no network address of its own"
                print(
                    f"note: whether the {s.service} container consumes its queue cannot be told ({why}): "
                    "ready means its container stays up",
                    flush=True,
                )
        verdict = readiness.judge(
            state, restarts, started_restarts=started_restarts, running_for_s=up_for, consumers=consumers
        )
        if verdict.ready:
            wait.finish("ready")
            if ready is not None:
                ready(verdict.reason)
            return None
        # A worker judged by its consumer has the bound of `consume_within` (the verdict fails past it).
        limit = max(timeout, bound + 10.0) if consumers is not None and not state.get("Health") and bound else timeout
        if verdict.failed or now > begin + limit:
            reason = verdict.reason if verdict.failed else f"not ready after {now - begin:.0f} s ({verdict.reason})"
            wait.finish("failed" if verdict.failed else "gave up")
            show_last_logs(compose)
            return reason
        wait.update(state, watched=watched)
        time.sleep(0.1)


def show_last_logs(compose: Compose, lines: int = 20) -> None:
    """Print the worker's last log lines (to stderr), so a failed start says why."""
    s = compose.settings
    result = compose.run("logs", "--no-color", "--tail", str(lines), s.service, capture=True)
    text = (result.stdout + result.stderr).rstrip()
    if text:
        print(f"--- last {lines} log lines of {s.service} ---\n{text}\n---", file=sys.stderr, flush=True)


def require_ready(compose: Compose, what: str, *, stop_on_failure: bool = False) -> None:
    """One error line when the started worker is not ready (after showing its last log lines).

    With ``stop_on_failure`` the worker is stopped first: under `restart: unless-stopped` a worker that
    crashes at start would otherwise go on restarting (and crashing) until someone stops it."""
    service = compose.settings.service
    problem = wait_ready(compose, ready=lambda how: print(f"{service}: ready ({how})", flush=True))
    if not problem:
        return
    stopped = ""
    if stop_on_failure:
        result = compose.run("stop", "--timeout", "5", service, capture=True)
        stopped = "; stopped it" if result.ok else f"; stopping it failed too ({compose.diagnose(result)})"
    raise UserError(f"{what}: the {service} container started but {problem}{stopped}")


def prodlike_restore(
    compose: Compose, containers: list[ContainerState] | None = None
) -> tuple[list[str] | None, dict[str, str] | None]:
    """How to bring the running worker back as it is: for a prod-like worker the compose files with
    the override and the variables of the plan recorded on it; (None, None) for a normal worker.
    ``containers``: the worker's containers when the caller has just listed them."""
    from ..knowledge.heap_plan import PlanError
    from ..knowledge.prodlike_labels import compose_env, plan_from_labels

    s = compose.settings
    for container in compose.containers(s.service) if containers is None else containers:
        if not container.running:
            continue
        try:
            plan = plan_from_labels(container.labels)
        except PlanError:
            plan = None  # unreadable labels: the normal worker is the safe way back
        if plan is not None:
            return [*compose.files(), s.prodlike_file], compose_env(plan)
    return None, None


def note_leaving_prodlike(compose: Compose, action: str, containers: list[ContainerState] | None = None) -> None:
    """One line when `action` replaces a prod-like worker by the normal one (``containers``: the
    project's containers when the caller has just listed them)."""
    from ..knowledge.prodlike_labels import is_prodlike, mode_text

    service = compose.settings.service
    listing = compose.containers(service) if containers is None else containers
    for container in listing:
        if container.service == service and container.running and is_prodlike(container.labels):
            print(
                f"note: the {compose.settings.service} runs in {mode_text(container.labels)}; {action} recreates "
                "it as the normal worker (caps and heap plan gone; `inv prodlike.up` to go back)",
                flush=True,
            )
            return
