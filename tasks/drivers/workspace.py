"""The workspace as `inv adopt` reads it: every package.json (name and dependencies), and writing the
collection's own files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..knowledge.adopt_apps import Package

#: Folders never searched for package.json: installed dependencies, build output, VCS and caches.
_SKIP = {"node_modules", ".git", "dist", "build", ".devstack", ".venv", "venv", "__pycache__", ".pnpm-store"}


def packages(root: Path) -> dict[str, Package]:
    """Folder (relative to ``root``, posix, "." for the root) -> its package.json's name and dependencies."""
    found: dict[str, Package] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
        if "package.json" not in files:
            continue
        path = Path(folder) / "package.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        names: set[str] = set()
        for key in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
            if isinstance(data.get(key), dict):
                names.update(str(name) for name in data[key])
        rel = Path(folder).relative_to(root).as_posix()
        scripts = data["scripts"] if isinstance(data.get("scripts"), dict) else {}
        binaries = data.get("bin")
        found[rel or "."] = Package(
            dir=rel or ".",
            name=str(data.get("name") or ""),
            dependencies=frozenset(names),
            scripts=tuple((str(k), str(v)) for k, v in scripts.items()),
            main=str(data.get("main") or "") if isinstance(data.get("main"), str) else "",
            bin=tuple(str(v) for v in binaries.values())
            if isinstance(binaries, dict)
            else ((binaries,) if isinstance(binaries, str) else ()),
        )
    return found


def compose_files_below(root: Path, names: tuple[str, ...], depth: int = 3) -> list[str]:
    """Compose files (by Compose's own names) in the folders below ``root``, at most ``depth`` levels
    down, as posix paths relative to it (installed dependencies, build output and dot folders skipped)."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith(".")) if len(rel.parts) < depth else []
        if rel.parts:
            found += [(rel / name).as_posix() for name in names if name in files]
    return found


class Tree:
    """The workspace's files by root-relative posix path, for the planner (tasks/knowledge/dev_entry.py)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()

    def read(self, path: str) -> str | None:
        try:
            return (self.root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write_text(path: Path, text: str) -> None:
    """Replace a file in one step (a crash never leaves half a file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text, encoding="utf-8", newline="\n")
    os.replace(partial, path)
