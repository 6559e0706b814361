"""`inv adopt`: find the worker services and write invoke.yaml and the collection's own compose overrides.

Reads `docker compose config` of the user's compose files and the workspace's package.json files,
proposes the workers (queue libraries in the app's package.json, names like *worker*, or
`--worker NAME`), and writes `compose.devstack.yaml`, `compose.devstack.prodlike.yaml` and the keys
it owns in invoke.yaml. The user's compose files are never edited; a second run writes nothing.
"""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task


@task(
    auto_shortflags=False,  # `-f` is Invoke's own (a configuration file) before the task name
    iterable=["worker", "file"],
    help={
        "file": "Your compose file(s), when Compose would not find them from here (repeat for several, in "
        "order; default: compose.files, else COMPOSE_FILE, else Compose's own lookup).",
        "worker": "A worker service, instead of the ones found (repeat for several: --worker email --worker sync).",
        "dry_run": "Print what would be written (a diff of each file), write nothing.",
    },
)
def adopt(c: Context, worker: list[str] | None = None, file: list[str] | None = None, dry_run: bool = False) -> None:
    """Propose the workers and write invoke.yaml and this collection's own overrides.

    The overrides (profile, restart, init, grace period, fingerprint label, prod-like overlay) go to
    files of this collection's own; your compose files are never edited."""
    import difflib
    import os
    from dataclasses import replace

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
        from pathlib import Path

        scratch = tempfile.mkdtemp(prefix="devstack-adopt-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        s = replace(s, state_dir=Path(scratch))
    root = s.root
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
    keep_env = adopt_plan.env_file_to_keep(root, user_files, today.project, exists=today.project.env_file.is_file())
    if keep_env is not None:
        print(f"note: Compose reads {keep_env} today (COMPOSE_FILE there): kept as compose.env_file")
    env_file = root / keep_env if keep_env is not None else s.env_file
    # Compose's answer on the user's files alone: what ours adds must not count as theirs.
    user_compose = Compose(replace(s, compose_files=tuple(user_files), env_file=env_file), require_env=False)
    config = stack_facts.config_json(user_compose)
    invoke_names = [n for n in ("invoke.yaml", "invoke.yml") if (root / n).is_file()]
    # A worker invoke.yaml already describes keeps its build mode (it decides the fingerprint label).
    known = {w.service: w.build_mode for w in s.workers} if invoke_names else {}
    skipped: list[str] = []
    packages = workspace.packages(root)
    try:
        proposals = adopt_plan.propose(config, root.as_posix(), packages, worker or (), known, skipped)
    except UserError:
        # None found by themselves, but invoke.yaml lists workers (named with --worker last time).
        listed = [name for name in known if name in (config.get("services") or {})]
        if worker or not listed:
            raise
        proposals = [
            replace(p, reason="listed in invoke.yaml")
            for p in adopt_plan.propose(config, root.as_posix(), packages, listed, known, [])
        ]
    for line in skipped:
        print(f"not a worker: {line}")
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
