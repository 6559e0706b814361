"""Which package manager an app uses, from its lock file, and the commands that follow (pure).

The lock file is looked for from the app folder upward to the repository root (a workspace keeps
one lock file at its root). What it says:

- ``pnpm-lock.yaml``: pnpm
- ``yarn.lock``: yarn; berry (2+) when a ``.yarnrc.yml`` sits beside it or the lock file has a
  ``__metadata:`` block, else classic (1.x)
- ``package-lock.json`` / ``npm-shrinkwrap.json``: npm
- none: npm (what ``npm install`` would create)

An app below the folder holding the lock file is a workspace member: the commands run from the
workspace root with the manager's own filter (``pnpm --filter <package> dev``, ``yarn workspace
<package> dev``, ``npm run dev --workspace <folder>``), as a monorepo's README tells people to.
File access is a parameter (``Files``) so this module does no I/O itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol


class Files(Protocol):
    """What detection reads: does a file exist, and its text (None if unreadable)."""

    def exists(self, path: Path) -> bool: ...

    def read(self, path: Path) -> str | None: ...


#: Lock files in the order they are trusted when a folder holds several (a stray package-lock.json
#: next to pnpm-lock.yaml is usually an accident of someone running `npm i`).
LOCK_FILES = ("pnpm-lock.yaml", "yarn.lock", "package-lock.json", "npm-shrinkwrap.json")


@dataclass(frozen=True)
class Detected:
    manager: str  # "npm", "pnpm", "yarn-classic", "yarn-berry"
    lock_file: Path | None  # None: no lock file found (npm assumed)
    workspace_root: Path  # the folder holding the lock file (the app folder when there is none)
    package: str  # the app's package.json name ("" when it has none)

    @property
    def program(self) -> str:
        return "yarn" if self.manager.startswith("yarn") else self.manager

    @property
    def label(self) -> str:
        """For messages: `pnpm (pnpm-lock.yaml)`."""
        names = {"yarn-classic": "yarn 1 (classic)", "yarn-berry": "yarn 2+ (berry)"}
        source = self.lock_file.name if self.lock_file else "no lock file"
        return f"{names.get(self.manager, self.manager)} ({source})"


@dataclass(frozen=True)
class AppCommands:
    """The three commands, and the folder each runs in."""

    install: str
    build: str
    dev: str
    cwd: Path  # where build and dev run (the workspace root for a filtered command)
    install_cwd: Path  # install always runs at the workspace root


def detect(app_dir: Path, root: Path, files: Files) -> Detected:
    """The package manager of the app in ``app_dir``: the nearest lock file up to ``root``."""
    package = _package_name(app_dir, files)
    folder = app_dir
    while True:
        for name in LOCK_FILES:
            lock = folder / name
            if files.exists(lock):
                return Detected(_manager(name, lock, files), lock, folder, package)
        if folder in (root, folder.parent) or not _inside(folder, root):
            break
        folder = folder.parent
    return Detected("npm", None, app_dir, package)


def _inside(folder: Path, root: Path) -> bool:
    return folder == root or root in folder.parents


def _manager(name: str, lock: Path, files: Files) -> str:
    if name == "pnpm-lock.yaml":
        return "pnpm"
    if name == "yarn.lock":
        if files.exists(lock.parent / ".yarnrc.yml"):
            return "yarn-berry"
        text = files.read(lock) or ""
        return "yarn-berry" if "\n__metadata:" in f"\n{text}" else "yarn-classic"
    return "npm"


def _package_name(app_dir: Path, files: Files) -> str:
    text = files.read(app_dir / "package.json")
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return ""
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else ""


def dev_script(scripts: Mapping[str, object], names: Sequence[str]) -> str:
    """The script that runs this worker in development: `dev:<name>` or `<name>:dev` for the worker's
    or service's name, else `dev:worker`/`worker:dev`, else `dev`.

    A package holding an API and a worker often has `dev` for the server and `dev:worker` for the
    worker (`tsx watch src/server.ts` / `tsx watch src/worker.ts`): `dev` would start the wrong one."""
    candidates = [form.format(n) for n in dict.fromkeys([*names, "worker"]) if n for form in ("dev:{}", "{}:dev")]
    return next((name for name in candidates if name in scripts), "dev")


def package_scripts(text: str | None) -> dict[str, object]:
    """The `scripts` of a package.json text ({} when there are none or it does not parse)."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    found = data.get("scripts") if isinstance(data, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def commands(found: Detected, app_dir: Path, dev: str = "dev") -> AppCommands:
    """Install, build and dev commands for the detected manager (scripts `build` and ``dev``)."""
    root = found.workspace_root
    member = app_dir != root
    install = {
        "npm": "npm ci" if found.lock_file else "npm install",
        "pnpm": "pnpm install --frozen-lockfile",
        "yarn-classic": "yarn install --frozen-lockfile",
        "yarn-berry": "yarn install --immutable",
    }[found.manager]
    if not member:
        run = "npm run" if found.manager == "npm" else found.program
        return AppCommands(f"{install}", f"{run} build", f"{run} {dev}", cwd=app_dir, install_cwd=app_dir)
    if found.manager == "pnpm" and found.package:
        prefix = f"pnpm --filter {found.package}"
        return AppCommands(install, f"{prefix} build", f"{prefix} {dev}", cwd=root, install_cwd=root)
    if found.manager.startswith("yarn") and found.package:
        prefix = f"yarn workspace {found.package}"
        return AppCommands(install, f"{prefix} build", f"{prefix} {dev}", cwd=root, install_cwd=root)
    if found.manager == "npm":
        rel = PurePosixPath(*app_dir.relative_to(root).parts).as_posix()
        return AppCommands(
            install, f"npm run build --workspace {rel}", f"npm run {dev} --workspace {rel}", cwd=root, install_cwd=root
        )
    # A member without a package name cannot be filtered: run its scripts in its own folder.
    run = found.program
    return AppCommands(install, f"{run} run build", f"{run} run {dev}", cwd=app_dir, install_cwd=root)
