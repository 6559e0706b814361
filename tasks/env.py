"""`inv env.*`: the project's `.env` against `.env.example`."""

from __future__ import annotations

import shutil

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task


@task(help={"json": "Print one JSON document instead of text (keys: docs/json.md); the same exit code."})
def check(c: Context, json: bool = False) -> None:
    """Compare .env with .env.example: missing, unknown and malformed lines.

    Values are never shown."""
    from typing import Any

    from .drivers import stack_facts
    from .drivers.compose import Compose
    from .drivers.progress import colour_for
    from .knowledge import envfile, json_doc
    from .knowledge.failures import UserError
    from .knowledge.scheduler import scheduler_warnings
    from .knowledge.settings import display, settings

    s = settings(c)
    compose = Compose(s, require_env=False)
    env_path, example_path = compose.env_path, compose.env_example
    shown, example_shown = display(env_path, s.root), display(example_path, s.root)
    mismatch = f"{shown} does not match {example_shown}"

    def gather() -> dict[str, Any]:
        notes: list[str] = []
        if not example_path.is_file():
            # Nothing documents the variables: report what is there, never fail for it.
            env = envfile.read(env_path) if env_path.is_file() else envfile.EnvFile(env_path)
            report = envfile.EnvReport(missing=[], unknown=[], malformed=list(env.malformed))
            notes.append(
                f"{shown}: {len(env.values)} keys (no {example_shown} to compare it with)"
                if env_path.is_file()
                else f"no {shown} and no {example_shown}: nothing to check (Compose needs no .env here)"
            )
        else:
            if not env_path.is_file():
                raise UserError(f"{shown} is missing: run `inv env.init` to create it from {example_shown}")
            env = envfile.read(env_path)
            report = envfile.compare(env, envfile.read(example_path))
        warnings: list[str] = []
        try:
            warnings = scheduler_warnings(stack_facts.load(compose), s.scheduler_var)
        except UserError as error:
            notes.append(f"scheduler check skipped ({error.reason})")
        facts = json_doc.env_check_facts(shown, example_shown, len(env.values), report, warnings, notes)
        return {**facts, "ok": report.ok}

    if json:
        import sys

        from .drivers import json_out

        def body() -> tuple[bool, dict[str, Any]]:
            facts = gather()
            ok = facts.pop("ok")
            for warning in facts["warnings"]:
                print(f"warning: {warning}", file=sys.stderr)
            return ok, facts

        if not json_out.emit("env.check", body):
            raise UserError(f"{mismatch} (see the JSON document)")
        return
    facts = gather()
    colour = colour_for()
    for line in json_doc.env_check_lines(facts, colour=colour):
        print(line)
    if not facts["ok"]:
        raise UserError(f"{mismatch} (see above)")
    if example_path.is_file():  # otherwise the note above said what there is
        print(json_doc.env_ok_line(facts, colour=colour))


@task
def init(c: Context) -> None:
    """Create .env from .env.example; an existing .env is never overwritten."""
    from .drivers.compose import Compose
    from .knowledge.settings import display, settings

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
