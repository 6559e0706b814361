"""`inv doctor`: one line per prerequisite, OK or what to do."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

if TYPE_CHECKING:
    from .drivers.compose import Compose
    from .knowledge.checks import Check
    from .knowledge.engine_info import EngineInfo
    from .knowledge.settings import Settings
    from .knowledge.stack_config import StackConfig


class _Output:
    """Where the doctor's lines go: printed as they come (coloured on a terminal), or kept for --json."""

    colour = False
    collected: list[Check] | None = None


_out = _Output()


def _line(ok: bool, what: str, detail: str, *, warn: bool = False) -> bool:
    """One line; a WARN line is advice and does not fail the doctor."""
    from .knowledge.checks import Check, check_line

    check = Check.of(ok, what, detail, warn=warn)
    if _out.collected is not None:
        _out.collected.append(check)
    else:
        print(check_line(check, colour=_out.colour), flush=True)
    return ok


@task(help={"json": "Print one JSON document instead of text (keys: docs/json.md); the same exit code."})
def doctor(c: Context, json: bool = False) -> None:
    """Check Docker, Compose, .env and each worker, and restore a lost worker.

    Checks the engine and, per worker, the app, its package manager, its compose service and its image.
    On a repository not yet adapted it says which lines to add (WARN lines)."""
    from ._version import __version__

    if json:
        from .drivers import json_out
        from .knowledge.checks import check_facts

        collected: list[Check] = []

        def body() -> tuple[bool, dict[str, Any]]:
            _out.collected = collected
            try:
                ok = _checks(c)
            finally:
                _out.collected = None
            return ok, {"devstack_version": __version__, "checks": [check_facts(check) for check in collected]}

        if not json_out.emit("doctor", body):
            raise Exit("doctor found problems (see the JSON's failed checks)", code=1)
        return
    from .drivers.progress import colour_for

    _out.colour = colour_for()
    print(version_line(), flush=True)
    if not _checks(c):
        raise Exit("doctor found problems (FAIL lines above)", code=1)


def version_line() -> str:
    """The first line: which devstack-tasks this is and where it was loaded from (for bug reports)."""
    from pathlib import Path

    from ._version import __version__

    return f"devstack-tasks {__version__} ({Path(__file__).resolve().parent})"


def _checks(c: Context) -> bool:
    """Every check, a line each; False when one failed."""
    from .drivers import engine, handover, host_app, stack_facts, workers
    from .drivers.compose import Compose
    from .drivers.handover import restore
    from .knowledge import adoption, envfile
    from .knowledge.compose_cli import format_version
    from .knowledge.failures import UserError, explain
    from .knowledge.scheduler import scheduler_warnings
    from .knowledge.settings import display

    chosen = workers.select(c, None)
    s = chosen[0]
    results = []
    docker = shutil.which("docker")
    results.append(
        _line(bool(docker), "docker CLI", docker or "not found on PATH: install Docker Desktop or Docker Engine")
    )
    compose = Compose(s, require_env=False)
    engine_ok = False
    if docker:
        info, failure, text = engine.query(compose.gateway)
        engine_ok = info is not None
        if info is not None:
            detail = f"engine {info.version}, {info.cpus} CPUs, {info.memory_bytes / 2**30:.1f} GiB memory"
        else:
            detail = explain(failure, text, compose.env.get("DOCKER_HOST"))
        results.append(_line(engine_ok, "docker engine", detail))
    compose_ok = False
    try:
        base = compose.base
        compose_ok = True
        results.append(_line(True, "compose", f"{' '.join(base)} {format_version(compose.version)}"))
    except UserError as error:
        results.append(_line(False, "compose", error.reason))
    env_path, example = compose.env_path, compose.env_example
    try:
        if not env_path.is_file() and not example.is_file():
            needed = _env_copied_by_builds(chosen)
            results.append(
                _line(
                    not needed,
                    ".env",
                    f"none at {display(env_path, s.root)}, but {needed}: the image build fails without it"
                    if needed
                    else f"none at {display(env_path, s.root)} (no {example.name}: none needed)",
                )
            )
        else:
            env = envfile.load(env_path, example)
            report = envfile.compare(env, envfile.read(example)) if example.is_file() else None
            missing = (
                f"; missing {', '.join(report.missing)} (see `inv env.check`)" if report and report.missing else ""
            )
            results.append(_line(not missing, ".env", f"{len(env.values)} keys{missing}"))
    except UserError as error:
        results.append(_line(False, ".env", error.reason))
    for w in chosen:
        label = f"{w.worker_name}" if len(chosen) > 1 else "built app"
        problem = host_app.dist_problem(w)
        if w.build_mode == "image":
            detail = f"built inside its image (`inv worker.up {w.worker_name} --build` rebuilds it)"
        elif w.build_mode == "none":
            detail = "no build step (build_mode: none): dist checks do not apply"
        elif problem is None:
            detail = display(w.dist_main, w.root)
        else:
            again = f"inv worker.up{' ' + w.worker_name if len(chosen) > 1 else ''} --build"
            detail = f"{problem}: run `{again}` (or `{w.app_build}` in {w.app_dir.name})"
        results.append(_line(problem is None, label, detail))
        results.append(_line(True, "  app commands", f"{w.package_manager or 'configured'}: dev `{w.app_dev}`"))
        _missing_dev_script(w, results)
        _lock_advice(w, results)
        # -- watchers (issue 16): a dev command that cuts jobs or restarts on a hang-up, and the fix --
        from .drivers import dev_command

        for advice_line in dev_command.advice(w):
            results.append(_line(True, "  dev command", advice_line, warn=True))
        _fork_advice(w, info if engine_ok else None, results)
    if compose_ok and engine_ok and (env_path.is_file() or not example.is_file()):
        try:
            stack = stack_facts.load(compose)
        except UserError as error:
            results.append(_line(False, "compose files", error.reason))
            stack = None
        seen: set[str] = set()
        for service in stack.services.values() if stack else []:
            # Compose names the image of a build without `image:` after the project and service.
            image = service.image or f"{stack.name if stack else ''}-{service.name}"
            if image in seen:
                continue
            seen.add(image)
            present = compose.gateway.docker("image", "inspect", "--format", "{{.Id}}", image).ok
            if present:
                detail = "present"
            elif service.build and service.name in {w.service for w in chosen}:
                detail = f"not built yet: built by `inv worker.up{'' if len(chosen) == 1 else ' ' + service.name}`"
            elif service.build:
                detail = f"not built yet: built from service {service.name!r}'s build section on first up"
            else:
                detail = "not present yet: pulled on first up"
            results.append(_line(True, "image", f"{image}: {detail}"))
        from .drivers.dev_preflight import runtime_ports

        runtime = runtime_ports(compose) if stack is not None else None
        for w in chosen:
            wcompose = Compose(w, require_env=False)
            if stack is not None:
                for advice in adoption.worker_advice(stack, w.service, w.profile, w.build_mode):
                    results.append(_line(advice.ok, w.service, advice.text, warn=advice.ok))
                _image_label_advice(w, wcompose, results)
                _readiness_rule(w, stack_facts.config_json(wcompose), results)
                # -- watchers (issue 16): a slow worker healthcheck makes every restore wait --
                slow = dev_command.healthcheck_advice(
                    stack_facts.config_json(wcompose), w.service, info.version if info else ""
                )
                if slow:
                    results.append(_line(True, w.service, slow, warn=True))
                _shell_stop_advice(w, wcompose, stack, results)
                _stop_reach_advice(w, wcompose, results)
                if not _dev_connections(w, wcompose, stack, runtime, results):
                    _handover_advice(w, wcompose, results)
            what = "dev worker" if len(chosen) == 1 else f"dev {w.worker_name}"
            try:
                if engine_ok and restore.recover_stale(wcompose):
                    results.append(_line(True, what, "recovered the background worker after a killed session"))
                else:
                    note = handover.describe(wcompose)
                    results.append(_line(True, what, note.removeprefix("dev worker: ") if note else "no session"))
            except UserError as error:
                results.append(_line(False, what, error.reason))
        for warning in scheduler_warnings(stack, s.scheduler_var) if stack else []:
            _line(True, "scheduler", warning, warn=True)
    return all(results)


def _env_copied_by_builds(chosen: list[Settings]) -> str:
    """Which worker's Dockerfile copies a `.env` its build context lacks ("" when none): doctor must not
    say no .env is needed while the image build would fail on `COPY .env`."""
    from .drivers import worker_service
    from .drivers.compose import Compose
    from .knowledge.build_context import dockerfile_copy_sources, named_copies
    from .knowledge.settings import display

    for w in chosen:
        build = worker_service.build_inputs(Compose(w, require_env=False))
        if build is None:
            continue
        try:
            text = build.dockerfile.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for source in named_copies(dockerfile_copy_sources(text, build.target, dict(build.args)), ".env"):
            if not any((build.context / source.lstrip("/")).parent.glob(Path(source).name)):
                return f"{display(build.dockerfile, w.root)} copies `{source}` from {display(build.context, w.root)}"
    return ""


def _dev_connections(
    w: Settings,
    compose: Compose,
    stack: StackConfig,
    runtime: tuple[dict[tuple[str, int], tuple[str, int]], set[str]] | None,
    results: list[bool],
) -> bool:
    """How the dev worker on the host reaches the services the worker service names, as `dev.worker`
    will see it (the running containers' ports first): True when `dev.worker` would refuse (a Redis
    it cannot get, two services at one address: FAIL); any other connection it cannot get is a WARN."""
    from .knowledge import dev_env

    worker_svc = stack.service(w.service)
    found, _ = dev_env.find_connections(
        stack,
        w.service,
        dict(worker_svc.environment) if worker_svc else {},
        host_port_vars=dev_env.parse_pairs(w.host_port_vars),
        url_vars=dev_env.parse_names(w.url_vars),
        exclude=dev_env.parse_exclusions(w.host_port_vars, w.url_vars),
        runtime=runtime[0] if runtime else None,
        running=runtime[1] if runtime else None,
    )
    refused = False
    for connection in found:
        if connection.set:
            results.append(_line(True, "  dev connection", connection.describe()))
        elif connection.note:
            results.append(_line(True, "  dev connection", connection.note))
        elif dev_env.leads_to_redis(stack, connection):
            results.append(_line(False, "  dev connection", connection.problem))
            refused = True
        else:
            results.append(_line(True, "  dev connection", connection.problem, warn=True))
    for clash in dev_env.connection_clashes(found):
        results.append(_line(False, "  dev connection", clash))
        refused = True
    return refused


def _readiness_rule(w: Settings, config: dict[str, Any], results: list[bool]) -> None:
    """What `worker.up`, `stack.up` and a dev session's end wait for (issue 25: ready = consuming)."""
    from .knowledge.readiness import has_healthcheck, rule_text

    service = (config.get("services") or {}).get(w.service) or {}
    healthcheck = has_healthcheck(service) if isinstance(service, dict) else False
    results.append(_line(True, "  ready", rule_text(w.current.consume_within, healthcheck)))


def _fork_advice(w: Settings, info: EngineInfo | None, results: list[bool]) -> None:
    """WARN when the worker's code forks Node processes by itself (node:cluster, child_process.fork):
    how many it starts under the prod-like plan's CPUs (tasks.knowledge.fork_scan)."""
    from .drivers import prod_source
    from .drivers.compose import Compose
    from .knowledge.failures import UserError
    from .knowledge.prod_source import choose
    from .knowledge.prodlike_plan import make_plan
    from .prodlike import fork_lines

    try:
        env = Compose(w, require_env=False).env
        chosen = choose(env, None, None, prod_source.load(w))
        heap = make_plan(env, chosen.cpus, chosen.memory)
    except UserError:
        return  # a bad PRODLIKE_* value or caps_from: prodlike.plan says it
    for text in fork_lines(w, heap, info):
        results.append(_line(True, "  processes", text, warn=True))


def _image_label_advice(w: Settings, compose: Compose, results: list[bool]) -> None:
    """WARN when the worker's image exists without our fingerprint label (its staleness is unknown)."""
    from .drivers import engine, host_app, worker_service
    from .knowledge import adoption

    if w.build_mode == "none":
        return
    image = worker_service.worker_image(compose)
    found = engine.image_id_and_label(compose.gateway, image, worker_service.label_name(w))
    if found is None or found[1] not in worker_service.UNKNOWN_LABELS:
        return
    label = worker_service.label_name(w)
    if _labels_its_build(compose, w.service, label):
        # The compose files (adopt's override, or the user's own) already label what they build: the
        # image is older than that, and a rebuild is the fix (`inv adopt` again changes nothing).
        name = w.worker_name or w.service
        lines = (
            "the compose files label the image they build (`build.labels`): rebuild it with "
            f"`inv worker.up {name} --build`"
        )
    else:
        lines = adoption.label_lines(label, host_app.fingerprint_var(w), w.service)
    results.append(
        _line(
            True,
            w.service,
            f"image {image} has no {worker_service.label_name(w)} label, so the tasks cannot tell when it is stale "
            f"(it is rebuilt only with --build): {lines}",
            warn=True,
        )
    )


def _labels_its_build(compose: Compose, service: str, label: str) -> bool:
    """Does the service's `build:` (as Compose resolves the compose files) set this label in
    `build.labels` (as adopt's override does)?"""
    from .drivers import stack_facts
    from .knowledge.failures import UserError

    try:
        build = ((stack_facts.config_json(compose).get("services") or {}).get(service) or {}).get("build") or {}
    except UserError:
        return False
    if not isinstance(build, dict):
        return False
    return label in (build.get("labels") or {})


def _shell_stop_advice(w: Settings, compose: Compose, stack: StackConfig, results: list[bool]) -> None:
    """WARN when the worker container runs its command through `sh -c` (a shell-form CMD): stops cut jobs."""
    import json

    from .drivers import stack_facts
    from .knowledge.build_context import shell_wrapped

    raw = (stack_facts.config_json(compose).get("services") or {}).get(w.service) or {}
    entrypoint, command = raw.get("entrypoint"), raw.get("command")
    if entrypoint is None or command is None:
        service = stack.service(w.service)
        image = (service.image if service else "") or f"{stack.name}-{w.service}"
        found = compose.gateway.docker("image", "inspect", "--format", "{{json .Config}}", image)
        if not found.ok:
            return  # not built yet: said on the image line
        try:
            config = json.loads(found.stdout) or {}
        except ValueError:
            return
        if entrypoint is None:
            entrypoint = config.get("Entrypoint")
            command = command if command is not None else config.get("Cmd")
        elif command is None:
            command = []  # Compose drops the image's CMD when it sets the entrypoint
    script = shell_wrapped(entrypoint, command)
    if script:
        results.append(
            _line(
                True,
                w.service,
                f"runs `{script}` through `sh -c` (a shell-form CMD or command): a stop signal reaches the "
                "shell, not the worker, so worker.down and a handover cut its job in progress; use the exec "
                'form (CMD ["node", "dist/main.js"], or `command:` as a list) or start the command with `exec`',
                warn=True,
            )
        )


def _stop_reach_advice(w: Settings, compose: Compose, results: list[bool]) -> None:
    """For a running worker container: do its consumers handle SIGTERM, and does a stop signal reach
    them (read inside it by `docker exec ... node`; tasks.drivers.container_stop)? WARN with the fix."""
    from .drivers import container_stop

    found = container_stop.doctor_lines(compose)
    if found is None:
        return  # not running: nothing to look at
    said, warnings = found
    if not warnings:
        results.append(_line(True, w.service, said))
    for warning in warnings:
        results.append(_line(True, w.service, warning, warn=True))


def _handover_advice(w: Settings, compose: Compose, results: list[bool]) -> None:
    """How `inv dev.worker` will take the queue: the app's start gate, the Redis relay, or stop first (WARN, why)."""
    import os

    from .drivers import dev_preflight, queue_consumers
    from .knowledge.failures import UserError
    from .knowledge.relay_env import relay_env

    if w.app_start_gate:
        results.append(_line(True, "  dev handover", "the app's start gate (app.start_gate)"))
        return
    if not w.app_redis_relay:
        stop_first = "the background worker is stopped before the dev command starts (app.redis_relay: false)"
        results.append(_line(True, "  dev handover", stop_first))
        return
    try:
        plan = dev_preflight.environment(compose, scheduler=True)
    except UserError as error:
        results.append(_line(True, "  dev handover", f"cannot tell ({error.reason})", warn=True))
        return
    endpoints = [(e.host, e.port) for e in plan.endpoints]
    redis = queue_consumers.find(plan.env, w.host_port_vars, w.url_vars, endpoints)
    if redis is None:
        stack = queue_consumers.stack_redis(compose)
        if stack is None:
            results.append(
                _line(True, "  dev handover", "cannot tell: no Redis answers at the dev worker's addresses now")
            )
            return
        detail = (
            f"no variable of {w.service}'s environment leads to Redis (the stack's answers at "
            f"{stack.address.host}:{stack.address.port}): the app dials an address of its own, which the dev worker "
            "cannot be pointed at (nor relayed); the background worker is stopped first. Have the app read its Redis "
            "address from a variable the service sets (REDIS_URL, or REDIS_HOST and REDIS_PORT)"
        )
        results.append(_line(True, "  dev handover", detail, warn=True))
        return
    relayed = relay_env(plan, (redis.address.host, redis.address.port), 0, dict(os.environ))
    if isinstance(relayed, str):
        detail = f"the background worker is stopped before the dev command starts: no Redis relay ({relayed})"
        results.append(_line(True, "  dev handover", detail, warn=True))
        return
    results.append(_line(True, "  dev handover", f"through the Redis relay ({relayed.lead} to it)"))


def _missing_dev_script(w: Settings, results: list[bool]) -> None:
    """WARN when the detected dev command runs a script the app's package.json does not have."""
    from .drivers.workers import LocalFiles
    from .knowledge import package_manager
    from .knowledge.settings import display

    files = LocalFiles()
    text = files.read(w.app_dir / "package.json")
    if text is None:
        return
    scripts = package_manager.package_scripts(text)
    script = package_manager.dev_script(scripts, [w.worker_name or "", w.service])
    detected = package_manager.commands(package_manager.detect(w.app_dir, w.root, files), w.app_dir, dev=script).dev
    if w.app_dev == detected and script not in scripts:
        from .drivers.dev_command import suggested_dev

        folder = display(w.app_dir / "package.json", w.root)
        suggested = suggested_dev(w)
        example = f"`dev: {suggested}`" + ("" if "<" in suggested else " (what `inv adopt` writes)")
        results.append(
            _line(
                True,
                "  dev command",
                f"{folder} has no `{script}` script, so `{w.app_dev}` will fail: set the worker's dev command "
                f"in invoke.yaml (`dev:`), e.g. {example}",
                warn=True,
            )
        )


def _lock_advice(w: Settings, results: list[bool]) -> None:
    """WARN when the lock file disagrees with package.json: the detected `npm ci` / frozen install would fail."""
    from .drivers.workers import lock_out_of_step

    problem = lock_out_of_step(w)
    if problem:
        results.append(_line(True, "  lock file", problem, warn=True))
