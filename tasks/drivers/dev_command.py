"""What `inv doctor` says about a worker's dev command and healthcheck (reads package.json; the
judgement is in tasks/knowledge/watchers.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..knowledge import watchers

if TYPE_CHECKING:
    from ..knowledge.settings import Settings


def package_scripts(s: Settings) -> dict[str, str]:
    """The `scripts` of package.json where the dev command runs and of the app folder, the app's winning:
    a workspace member's dev command runs at the root but filtered to the member (`pnpm --filter <pkg>
    dev`), so its `dev` is the member's, not the root's."""
    scripts: dict[str, str] = {}
    for folder in dict.fromkeys([s.run_dir, s.app_dir]):
        try:
            data = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found = data.get("scripts") if isinstance(data, dict) else None
        if isinstance(found, dict):
            scripts.update({str(k): str(v) for k, v in found.items()})
    return scripts


def advice(s: Settings) -> list[str]:
    """One line per trap in the dev command (tsx watch, nodemon, a compiler in watch mode), with the fix.

    A fix names only what exists: its entry file in the app folder and its tool (tsx) in the workspace;
    otherwise the fix is the one `inv adopt` would write (tasks/knowledge/dev_entry.py), else a
    placeholder for the entry."""
    from dataclasses import replace

    findings = watchers.detect(s.app_dev, package_scripts(s))
    return [(f if _fix_exists(s, f.fix) else replace(f, fix=suggested_dev(s))).line(s.app_dev) for f in findings]


def _fix_exists(s: Settings, fix: str) -> bool:
    from ..knowledge.command_line import split_command

    words = split_command(fix, windows=False)
    command = words[words.index("--") + 1 :] if "--" in words else words[1:]
    entry = next((w for w in command if "." in w and not w.startswith("-")), "")
    if not command or not entry or not (s.app_dir / entry).is_file():
        return False
    return command[0] == "node" or _installed(s, command[0])


def _installed(s: Settings, tool: str) -> bool:
    """A tool's binary in node_modules/.bin of the app folder or a folder above it, up to the root."""
    folder = s.app_dir
    while True:
        if (folder / "node_modules" / ".bin" / tool).exists():
            return True
        if folder in (s.root, folder.parent):
            return False
        folder = folder.parent


def suggested_dev(s: Settings) -> str:
    """The `dev:` adopt would write for this worker's package, else a placeholder naming no file."""
    from ..knowledge import dev_entry
    from . import workspace

    packages = workspace.packages(s.root)
    rel = s.app_dir.relative_to(s.root).as_posix() if s.app_dir.is_relative_to(s.root) else ""
    package = packages.get(rel or ".")
    if package is not None:
        planned = dev_entry.plan(package, packages, {}, None, workspace.Tree(s.root))
        if planned.command:
            return planned.command
    return f"{watchers.RUNNER_NAME} -- node <its entry file>"


def healthcheck_advice(config: dict[str, Any], service: str, engine_version: str) -> str:
    """Advice when the worker's healthcheck interval makes restores wait ("" when fine)."""
    raw = (config.get("services") or {}).get(service) or {}
    return watchers.healthcheck_advice(service, raw.get("healthcheck"), engine_version)
