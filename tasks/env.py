"""`inv env.*`: the project's `.env` against `.env.example`."""

from __future__ import annotations

import shutil

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task


@task
def check(c: Context) -> None:
    """Compare .env with .env.example: missing, unknown and malformed lines.

    Values are never shown."""
    from tasks.drivers import stack_facts
    from tasks.drivers.compose import Compose
    from tasks.knowledge import envfile
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.scheduler import scheduler_warnings
    from tasks.knowledge.settings import settings

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
        for warning in scheduler_warnings(stack_facts.load(compose), s.scheduler_var):
            print(f"warning: {warning}")
    except UserError as error:
        print(f"note: scheduler check skipped ({error.reason})")
    if not report.ok:
        raise UserError(f"{s.env_file.name} does not match {s.env_example.name} (see above)")
    print(f"{s.env_file.name}: OK ({len(env.values)} keys)")


@task
def init(c: Context) -> None:
    """Create .env from .env.example; an existing .env is never overwritten."""
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import settings

    s = settings(c)
    if s.env_file.exists():
        print(f"{s.env_file.name} already exists; left as it is (`inv env.check` compares it)")
        return
    if not s.env_example.is_file():
        raise UserError(f"{s.env_example.name} is missing")
    shutil.copyfile(s.env_example, s.env_file)
    print(f"created {s.env_file.name} from {s.env_example.name}")


ns = Collection("env", check, init)
