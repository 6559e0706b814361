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

    from tasks.drivers import stack_facts
    from tasks.drivers.compose import Compose
    from tasks.drivers.progress import colour_for
    from tasks.knowledge import envfile, json_doc
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.scheduler import scheduler_warnings
    from tasks.knowledge.settings import settings

    s = settings(c)
    mismatch = f"{s.env_file.name} does not match {s.env_example.name}"

    def gather() -> dict[str, Any]:
        if not s.env_file.is_file():
            raise UserError(f"{s.env_file.name} is missing: run `inv env.init` to create it from {s.env_example.name}")
        env = envfile.read(s.env_file)
        report = envfile.compare(env, envfile.read(s.env_example))
        warnings: list[str] = []
        notes: list[str] = []
        try:
            compose = Compose(s, require_env=False)
            warnings = scheduler_warnings(stack_facts.load(compose), s.scheduler_var)
        except UserError as error:
            notes.append(f"scheduler check skipped ({error.reason})")
        facts = json_doc.env_check_facts(s.env_file.name, s.env_example.name, len(env.values), report, warnings, notes)
        return {**facts, "ok": report.ok}

    if json:
        import sys

        from tasks.drivers import json_out

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
    print(json_doc.env_ok_line(facts, colour=colour))


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
