"""`inv env.*`: the project's `.env` against `.env.example`."""

from __future__ import annotations

import shutil

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task


@task
def check(c: Context) -> None:
    """Compare .env with .env.example: missing, unknown and malformed lines (values are never shown)."""
    from tasks.drivers import stack_facts
    from tasks.drivers.compose import Compose
    from tasks.knowledge import envfile
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.scheduler import scheduler_warnings
    from tasks.knowledge.settings import display, settings

    s = settings(c)
    compose = Compose(s, require_env=False)
    env_path, example_path = compose.env_path, compose.env_example
    shown, example_shown = display(env_path, s.root), display(example_path, s.root)
    if not example_path.is_file():
        if env_path.is_file():
            print(f"{shown}: {len(envfile.read(env_path).values)} keys (no {example_shown} to compare it with)")
        else:
            print(f"no {shown} and no {example_shown}: nothing to check (Compose needs no .env here)")
        return
    if not env_path.is_file():
        raise UserError(f"{shown} is missing: run `inv env.init` to create it from {example_shown}")
    env = envfile.read(env_path)
    example = envfile.read(example_path)
    report = envfile.compare(env, example)
    for line in report.malformed:
        print(f"{shown}:{line}: malformed line (expected KEY=value)")
    for key in report.missing:
        print(f"missing: {key} (documented in {example_shown})")
    for key in report.unknown:
        print(f"unknown: {key} (not in {example_shown}; a typo?)")
    try:
        for warning in scheduler_warnings(stack_facts.load(compose), s.scheduler_var):
            print(f"warning: {warning}")
    except UserError as error:
        print(f"note: scheduler check skipped ({error.reason})")
    if not report.ok:
        raise UserError(f"{shown} does not match {example_shown} (see above)")
    print(f"{shown}: OK ({len(env.values)} keys)")


@task
def init(c: Context) -> None:
    """Create .env from .env.example; an existing .env is never overwritten."""
    from tasks.drivers.compose import Compose
    from tasks.knowledge.settings import display, settings

    s = settings(c)
    compose = Compose(s, require_env=False)
    env_path, example_path = compose.env_path, compose.env_example
    shown, example_shown = display(env_path, s.root), display(example_path, s.root)
    if env_path.exists():
        print(f"{shown} already exists; left as it is (`inv env.check` compares it)")
        return
    if not example_path.is_file():
        # Nothing documents a .env: Compose needs none (and `inv setup` goes on without one).
        print(f"no {example_shown}: no {shown} to create (none is needed)")
        return
    shutil.copyfile(example_path, env_path)
    print(f"created {shown} from {example_shown}")


ns = Collection("env", check, init)
