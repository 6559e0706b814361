"""`inv doctor`: one line per prerequisite, OK or what to do."""

from __future__ import annotations

import shutil

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task


def _line(ok: bool, what: str, detail: str) -> bool:
    print(f"{'OK  ' if ok else 'FAIL'} {what:<14} {detail}", flush=True)
    return ok


@task
def doctor(c: Context) -> None:
    """Check Docker, the engine, Compose, .env, the built app and the images; restore a lost worker."""
    from tasks.drivers import engine, handover, host_app, process, stack_facts
    from tasks.drivers.compose import Compose
    from tasks.knowledge import envfile
    from tasks.knowledge.compose_cli import format_version
    from tasks.knowledge.failures import UserError, explain
    from tasks.knowledge.settings import display, settings

    s = settings(c)
    results = []
    docker = shutil.which("docker")
    results.append(
        _line(bool(docker), "docker CLI", docker or "not found on PATH: install Docker Desktop or Docker Engine")
    )
    compose = Compose(s, require_env=False)
    engine_ok = False
    if docker:
        info, failure, text = engine.query()
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
    try:
        env = envfile.load(s.env_file, s.env_example)
        report = envfile.compare(env, envfile.read(s.env_example)) if s.env_example.is_file() else None
        missing = f"; missing {', '.join(report.missing)} (see `inv env.check`)" if report and report.missing else ""
        results.append(_line(not missing, ".env", f"{len(env.values)} keys{missing}"))
    except UserError as error:
        results.append(_line(False, ".env", error.reason))
    problem = host_app.dist_problem(s)
    results.append(
        _line(
            problem is None,
            "built app",
            display(s.dist_main, s.root)
            if problem is None
            else f"{problem}: run `inv worker.up --build` (or `{s.app_build}` in {s.app_dir.name})",
        )
    )
    if compose_ok and engine_ok and s.env_file.is_file():
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
            present = process.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], capture=True).ok
            if present:
                detail = "present"
            elif service.build and service.name == s.service:
                detail = "not built yet: built by `inv worker.up`"
            elif service.build:
                detail = f"not built yet: built from service {service.name!r}'s build section on first up"
            else:
                detail = "not present yet: pulled on first up"
            results.append(_line(True, "image", f"{image}: {detail}"))
        try:
            if engine_ok and handover.recover_stale(compose):
                results.append(_line(True, "dev worker", "recovered the background worker after a killed session"))
            else:
                note = handover.describe(compose)
                results.append(_line(True, "dev worker", note.removeprefix("dev worker: ") if note else "no session"))
        except UserError as error:
            results.append(_line(False, "dev worker", error.reason))
    if not all(results):
        raise Exit("doctor found problems (FAIL lines above)", code=1)
