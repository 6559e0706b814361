"""`inv env.*`: the project's `.env` against `.env.example`."""
from __future__ import annotations

import json
import shutil

from invoke import Collection, task

from tasks import envfile
from tasks.compose import Compose
from tasks.failures import UserError
from tasks.settings import settings


def scheduler_warnings(config: dict, scheduler_key: str = "ENABLE_SCHEDULER") -> list[str]:
    """Services that could run more than one scheduler at once.

    Takes the output of `docker compose config --format json` (interpolated and merged by Compose).
    """
    warnings = []
    for name, service in (config.get("services") or {}).items():
        environment = service.get("environment") or {}
        if not envfile.truthy(str(environment.get(scheduler_key) or "")):
            continue
        replicas = (service.get("deploy") or {}).get("replicas") or service.get("scale") or 1
        if int(replicas) > 1:
            warnings.append(f"service {name!r} runs {replicas} replicas with {scheduler_key} on: "
                            "only one instance may run the scheduler")
    return warnings


@task
def check(c):
    """Compare .env with .env.example: missing, unknown and malformed lines (values are never shown)."""
    s = settings(c)
    if not s.env_file.is_file():
        raise UserError(f"{s.env_file.name} is missing: run `inv env.init` to create it from {s.env_example.name}")
    env = envfile.read(s.env_file)
    example = envfile.read(s.env_example)
    report = envfile.compare(env, example)
    for line in report.malformed:
        print(f"{s.env_file.name}:{line}: malformed line (expected KEY=value)")
    for key in report.missing:
        print(f"missing: {key} (documented in {s.env_example.name})")
    for key in report.unknown:
        print(f"unknown: {key} (not in {s.env_example.name}; a typo?)")
    try:
        compose = Compose(s, require_env=False)
        result = compose.capture("config", "--format", "json", what="docker compose config", profiles=["*"])
        for warning in scheduler_warnings(json.loads(result.stdout)):
            print(f"warning: {warning}")
    except UserError as error:
        print(f"note: scheduler check skipped ({error.reason})")
    if not report.ok:
        raise UserError(f"{s.env_file.name} does not match {s.env_example.name} (see above)")
    print(f"{s.env_file.name}: OK ({len(env.values)} keys)")


@task
def init(c):
    """Create .env from .env.example; an existing .env is never overwritten."""
    s = settings(c)
    if s.env_file.exists():
        print(f"{s.env_file.name} already exists; left as it is (`inv env.check` compares it)")
        return
    if not s.env_example.is_file():
        raise UserError(f"{s.env_example.name} is missing")
    shutil.copyfile(s.env_example, s.env_file)
    print(f"created {s.env_file.name} from {s.env_example.name}")


ns = Collection("env", check, init)
