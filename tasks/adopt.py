"""`inv adopt`: find the worker services and write invoke.yaml and the collection's own compose overrides.

Reads `docker compose config` of the user's compose files and the workspace's package.json files,
proposes the workers (queue libraries in the app's package.json, names like *worker*, or
`--worker NAME`), and writes `compose.devstack.yaml`, `compose.devstack.prodlike.yaml` and the keys
it owns in invoke.yaml. The user's compose files are never edited; a second run writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.context import Context
from invoke.tasks import task

if TYPE_CHECKING:
    from pathlib import Path


@task(
    auto_shortflags=False,  # `-f` is Invoke's own (a configuration file) before the task name
    iterable=["worker", "file"],
    help={
        "file": "Your compose file(s), when Compose would not find them from here (repeat for several, in "
        "order; default: compose.files, else COMPOSE_FILE, else Compose's own lookup).",
        "worker": "A worker service, instead of the ones found (repeat for several: --worker email --worker sync).",
        "dry_run": "Print what would be written (a diff of each file), write nothing.",
        "env_file": "The env file your docs pass to Compose (`--env-file PATH`): read now, and recorded as "
        "compose.env_file so every task passes it (default: compose.env_file, else the .env Compose reads).",
    },
)
def adopt(
    c: Context,
    worker: list[str] | None = None,
    file: list[str] | None = None,
    dry_run: bool = False,
    env_file: str = "",
) -> None:
    """Propose the workers and write invoke.yaml and this collection's own overrides.

    The overrides (profile, restart, init, grace period, fingerprint label, prod-like overlay) go to
    files of this collection's own; your compose files are never edited."""
    import difflib
    import os
    from dataclasses import replace
    from pathlib import Path

    from .drivers import stack_facts, workspace
    from .drivers.compose import Compose
    from .knowledge import adopt_config, adopt_plan
    from .knowledge.compose_cli import split_list
    from .knowledge.failures import UserError
    from .knowledge.settings import display, settings
    from .knowledge.stack_config import parse_config

    s = settings(c)
    if dry_run:
        # Compose's answers are cached in the state folder: a dry run keeps them in a throwaway one, so
        # that it writes nothing at all (not even `.devstack/`).
        import atexit
        import shutil
        import tempfile

        scratch = tempfile.mkdtemp(prefix="devstack-adopt-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        s = replace(s, state_dir=Path(scratch))

    root = s.root
    given_env: str | None = None
    if env_file:
        from .knowledge.settings import config_path

        path = Path(config_path(env_file, root))
        if not path.is_file():
            raise UserError(f"--env-file {env_file}: no such file (nothing written)")
        given_env = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        s = replace(s, env_file=path)
    today = Compose(s, require_env=False)  # what Compose reads now, before adoption lists the files
    env = today.env
    configured = list(file or ()) or list(s.compose_files)
    compose_file_var = split_list(env.get("COMPOSE_FILE"), env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep)
    present = {p.name for p in root.iterdir() if p.is_file()}
    if not configured and not compose_file_var and not present.intersection(adopt_plan.COMPOSE_NAMES):
        # none here: the one folder below holding a compose file (infra/docker/...), said aloud
        configured = adopt_plan.compose_folder_below(
            workspace.compose_files_below(root, adopt_plan.COMPOSE_NAMES + adopt_plan.OVERRIDE_NAMES)
        )
        print(f"note: no compose file here; reading {' and '.join(configured)} (`--file PATH` to name another)")
        found_below = True
    else:
        found_below = False
    user_files = adopt_plan.user_compose_files(configured, compose_file_var, present)
    if len(user_files) == 1:
        # one file (given, configured or found below): with -f Compose no longer adds the override
        # beside it by itself, so it is listed, also when it appeared since the last run
        folder = (root / user_files[0]).parent
        beside = {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()
        user_files = adopt_plan.with_override(user_files[0], beside)
        if len(user_files) == 2:
            print(f"note: {user_files[1]} is read too: Compose reads it beside {user_files[0]}")
    # Listed with -f, the files would make Compose read the first one's folder's .env: keep today's.
    keep_env = (
        given_env
        if given_env is not None
        else adopt_plan.env_file_to_keep(root, user_files, today.project, exists=today.project.env_file.is_file())
    )
    if keep_env is not None and given_env is None:
        print(f"note: Compose reads {keep_env} today (COMPOSE_FILE there): kept as compose.env_file")
    read_env = root / keep_env if keep_env is not None else s.env_file
    # Compose's answer on the user's files alone: what ours adds must not count as theirs.
    user_compose = Compose(replace(s, compose_files=tuple(user_files), env_file=read_env), require_env=False)
    config = stack_facts.config_json(user_compose)
    if found_below:  # what Compose makes of files below, as when it is run there: said, not assumed
        env_path = user_compose.env_path
        env_text = display(env_path, root) + ("" if env_path.is_file() else ", absent")
        project = config.get("name")
        print(f"note: with them Compose reads {env_text} and names the project {project!s}, as when run there")
    beside_files = _other_files(root, user_files)
    if given_env is None and s.env_file is None:
        _env_files_in_docs(root, today.project.env_file)
    invoke_names = [n for n in ("invoke.yaml", "invoke.yml") if (root / n).is_file()]
    # A worker invoke.yaml already describes keeps its build mode (it decides the fingerprint label).
    known = {w.service: w.build_mode for w in s.workers} if invoke_names else {}
    skipped: list[str] = []
    packages = workspace.packages(root)
    files = workspace.Tree(root)
    services = config.get("services") or {}
    invoke_now = workspace.read_text(root / invoke_names[0]) if invoke_names else None
    listed = [name for name in adopt_config.listed_workers(invoke_now) if name in services]
    if worker or not listed:
        try:
            proposals = adopt_plan.propose(config, root.as_posix(), packages, worker or (), known, skipped, files)
        except UserError:
            if worker or not beside_files:
                raise
            # none in the files read, but a file beside them holds some: the error says how to include it
            other, like, line = beside_files[0]
            raise UserError(
                f"no worker service in {' and '.join(user_files)} (services: {', '.join(sorted(services))}); "
                f"{other} holds {', '.join(like)}: `{line}` (nothing written)"
            ) from None
    else:
        # A plain re-run keeps the user's choice of workers (invoke.yaml's list, perhaps from `--worker`);
        # one found by itself but left out is said, never added and never a refusal.
        try:
            found = adopt_plan.propose(config, root.as_posix(), packages, (), known, skipped, files)
        except UserError:
            found = []
        proposals = [
            replace(p, reason="listed in invoke.yaml")
            for p in adopt_plan.propose(config, root.as_posix(), packages, listed, known, [], files)
        ]
        for p in found:
            if p.service not in listed:
                print(
                    f"not adopted: {p.service} ({p.reason}): invoke.yaml's workers leave it out, kept so; to "
                    f"adopt it too, add under `workers:` {adopt_config.entries_text([p.entry()])}"
                )
    for line in skipped:
        print(f"not a worker: {line}")
    for line in adopt_plan.profiled_dependencies(config, proposals):
        print(f"note: {line}")
    # Production's own numbers (prodlike.caps_from): a Compose file with deploy.resources, Kubernetes
    # manifests, an ECS task definition or a Cloud Foundry manifest defining the worker's container.
    from .drivers import prod_source
    from .knowledge.prod_source import pick

    definitions = prod_source.find(root, {*user_files, adopt_plan.OVERRIDE_FILE, adopt_plan.PRODLIKE_FILE})
    production: dict[str, tuple[str | None, list[str]]] = {}
    for index, p in enumerate(proposals):
        configured_caps = next((w.caps_from for w in s.workers if w.service == p.service), "") if invoke_names else ""
        found_ref, others = pick(definitions, p.service)
        production[p.service] = (configured_caps or found_ref, others if not configured_caps else [])
        if configured_caps or found_ref:
            proposals[index] = replace(p, caps_from=configured_caps or found_ref or "")
    # What invoke.yaml already says of a worker is what the tasks will use (adopt keeps it): shown so.
    in_yaml = {w.service: w for w in s.workers} if invoke_names else {}
    for p in proposals:
        added = ", ".join(p.dev_override) or "nothing (the service has it all)"
        mine = in_yaml.get(p.service)
        if mine is not None and (display(mine.app_dir, root), mine.build_mode) != (p.app_dir, p.build_mode):
            kept = f"dir {display(mine.app_dir, root)}, build_mode {mine.build_mode} (kept from invoke.yaml)"
            print(f"worker {p.service}: {p.reason}; profile {p.profile}, {kept}")
        else:
            print(f"worker {p.service}: {p.reason}; profile {p.profile}, dir {p.app_dir}, build_mode {p.build_mode}")
        print(f"  {adopt_plan.OVERRIDE_FILE} adds: {added}")
        for note in p.notes:
            print(f"  note: {note}")
        if p.dev_line:
            if mine is None:
                print(f"  dev: {p.dev_line}")
            elif not mine.app_dev and p.dev:
                print(
                    "  note: invoke.yaml lists it without `dev:` and its package has no `dev` script: "
                    f"add `dev: {p.dev}`"
                )
        reference, others = production[p.service]
        if reference:
            print(f"  production's caps: {reference} (prodlike.caps_from: `inv prodlike.plan` shows them)")
            for other in others:
                print(f"  note: {other} defines {p.service} too: set caps_from to it if that is production")
        else:
            print("  production's caps: none found (prodlike.caps_from: path#container to name a file)")

    if not invoke_names and any((root / n).is_file() for n in ("invoke.json", "invoke.py")):
        raise UserError("this project's Invoke configuration is invoke.json or invoke.py: adopt edits YAML only")
    invoke_path = root / (invoke_names[0] if invoke_names else "invoke.yaml")
    wanted = adopt_config.Wanted(
        compose_files=os.pathsep.join([*user_files, adopt_plan.OVERRIDE_FILE]),
        prodlike_file=adopt_plan.PRODLIKE_FILE,
        workers=[p.entry() for p in proposals],
        env_file=keep_env,
    )
    invoke_text, notes = adopt_config.merge(workspace.read_text(invoke_path), wanted)
    # Services the workers reach and that publish no port: the override publishes them (ephemeral host ports).
    publish = adopt_plan.unpublished(parse_config(config), [p.service for p in proposals])
    for name, entries in sorted(publish.items()):
        reached = ", ".join(f"{port} (through {var})" for port, var in entries)
        print(f"note: {name} publishes no port for {reached}: {adopt_plan.OVERRIDE_FILE} publishes it on 127.0.0.1")
    outputs = {
        root / adopt_plan.OVERRIDE_FILE: adopt_plan.render_override(proposals, publish),
        root / adopt_plan.PRODLIKE_FILE: adopt_plan.render_prodlike(proposals),
        invoke_path: invoke_text,
    }
    for path in outputs:
        current = workspace.read_text(path)
        if path != invoke_path and current is not None and adopt_plan.GENERATED_MARK not in current:
            raise UserError(f"{path.name} exists and was not written by `inv adopt`: move it away (nothing written)")
    for note in notes:
        print(note)
    changed = 0
    for path, text in outputs.items():
        current = workspace.read_text(path)
        if current == text:
            print(f"{path.name}: unchanged")
            continue
        changed += 1
        if dry_run:
            print(f"{path.name}: would be {'written' if current is None else 'changed'}:")
            diff = difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{path.name} (now)" if current is not None else "/dev/null",
                tofile=path.name,
            )
            print("".join(diff), end="")
        else:
            workspace.write_text(path, text)
            print(f"{path.name}: {'written' if current is None else 'updated'}")
    # The tasks' state folder (caches, session records) is no one's source: it ignores itself, as
    # .venv or .pytest_cache do, so adopting adds no untracked folder to `git status`.
    ignore = s.state_dir / ".gitignore"
    if not dry_run and not ignore.exists():
        ignore.parent.mkdir(parents=True, exist_ok=True)
        workspace.write_text(ignore, "# written by `inv adopt`: the dev-stack tasks' state, never committed\n*\n")
        shown = ignore.relative_to(root) if ignore.is_relative_to(root) else ignore
        print(f"{shown}: written (the folder ignores itself)")
    if dry_run:
        print(f"dry run: {changed} file(s) would change, nothing written")
    elif changed:
        print("next: `inv doctor`, then `inv worker.up`")


def _other_files(root: Path, user_files: list[str]) -> list[tuple[str, list[str], str]]:
    """Say which compose files beside the user's hold worker-like services but are not read; each as
    (file, its worker-like services, the `inv adopt --file ...` line that includes it)."""
    from pathlib import Path

    import yaml

    from .drivers import workspace
    from .knowledge import adopt_plan

    folder = (root / user_files[0]).parent
    beside = {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()
    packages = None
    found: list[tuple[str, list[str], str]] = []
    for other in adopt_plan.other_compose_files(user_files, beside):
        try:
            data = yaml.safe_load(workspace.read_text(root / other) or "")
        except yaml.YAMLError:
            continue
        if packages is None:
            packages = workspace.packages(root)
        services = data.get("services") if isinstance(data, dict) else None
        like = adopt_plan.worker_like(services, packages, Path(other).parent.as_posix())
        if like:
            line = "inv adopt " + " ".join(f"--file {f}" for f in [*user_files, other])
            found.append((other, like, line))
            print(
                f"note: also found {other} (services {', '.join(like)} look like workers), which Compose does not "
                f"read here: to include it, `{line}`"
            )
    return found


def _env_files_in_docs(root: Path, reads: Path) -> None:
    """Say which env file the repository's docs or scripts pass to Compose (`--env-file X`), when it exists."""
    from .drivers import workspace
    from .knowledge import adopt_plan

    texts = {
        p.name: workspace.read_text(p) or ""
        for p in sorted(root.iterdir())
        if p.is_file() and (p.suffix.lower() == ".md" or p.name in ("package.json", "Makefile", "justfile"))
    }
    for where, path in adopt_plan.env_files_passed(texts):
        if (root / path).is_file() and (root / path).resolve() != reads.resolve():
            print(
                f"note: {where} passes `--env-file {path}` to Compose: `inv adopt --env-file {path}` records it "
                "(compose.env_file), so every task reads it"
            )
