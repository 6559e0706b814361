"""Choosing the worker(s) a task acts on, with their app commands completed from the lock file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..knowledge.settings import Settings, settings

if TYPE_CHECKING:
    from invoke.context import Context


class LocalFiles:
    """The real file system, for package-manager detection."""

    def exists(self, path: Path) -> bool:
        return path.is_file()

    def read(self, path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def complete(s: Settings) -> Settings:
    """Fill the app commands left empty in invoke.yaml from the detected package manager."""
    if s.app_install and s.app_build and s.app_dev:
        return s
    from ..knowledge import package_manager  # here: a task that needs no command (status) skips its import

    files = LocalFiles()
    found = package_manager.detect(s.app_dir, s.root, files)
    scripts = package_manager.package_scripts(files.read(s.app_dir / "package.json"))
    dev = package_manager.dev_script(scripts, [s.worker_name or "", s.service])
    cmds = package_manager.commands(found, s.app_dir, dev=dev)
    # A configured command keeps running in the app folder, as before; a detected one where it belongs.
    completed = replace(
        s.current,
        app_install=s.app_install or cmds.install,
        app_build=s.app_build or cmds.build,
        app_dev=s.app_dev or cmds.dev,
    )
    return replace(
        s,
        current=completed,
        app_cwd=s.app_cwd if s.app_dev and s.app_build else cmds.cwd,
        install_cwd=s.install_cwd if s.app_install else cmds.install_cwd,
        dev_cwd=s.dev_cwd or (s.app_dir if s.app_dev else cmds.cwd),
        package_manager=found.label,
    )


def select(c: Context, name: str | None, commands: bool = True) -> list[Settings]:
    """Every configured worker (no name), or the one named. ``commands=False``: the app commands are
    left as configured (a task that runs none, such as `worker.status`, skips the lock-file lookup)."""
    chosen = settings(c).selected(name or None)
    return [complete(s) for s in chosen] if commands else chosen


def one(c: Context, name: str | None) -> Settings:
    """The named worker, or the default (the only one, or the first)."""
    return complete(settings(c).worker(name or None))


def lock_out_of_step(s: Settings) -> str | None:
    """Why the worker's frozen install (`npm ci`, `pnpm install --frozen-lockfile`) would fail on a lock
    file out of step with package.json, with the fix; None when it would not (or cannot be told)."""
    from ..knowledge import lock_sync, package_manager

    files = LocalFiles()
    found = package_manager.detect(s.app_dir, s.root, files)
    if found.lock_file is None or found.manager not in ("npm", "pnpm"):
        return None
    words = s.app_install.split()
    if not ({"ci", "--frozen-lockfile", "--immutable"} & set(words)):
        return None  # an install that updates the lock file does not fail on it
    folders = (
        {"", s.app_dir.relative_to(found.workspace_root).as_posix()}
        if s.app_dir.is_relative_to(found.workspace_root)
        else {""}
    )
    manifests = {}
    for folder in folders:
        text = files.read(found.workspace_root / (folder or ".") / "package.json")
        if text is not None:
            manifests["" if folder == "." else folder] = text
    check = lock_sync.npm_mismatches if found.manager == "npm" else lock_sync.pnpm_mismatches
    problems = check(files.read(found.lock_file) or "", manifests)
    if not problems:
        return None
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return (
        f"{found.lock_file.name} is out of step with package.json ({problems[0]}{more}), so `{s.app_install}` "
        f"will fail: run `{lock_sync.fix_command(found.manager)}` in {found.workspace_root.name} and commit "
        f"{found.lock_file.name}"
    )
