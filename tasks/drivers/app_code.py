"""Reading a worker's own code on the host, for what `tasks.knowledge.fork_scan` looks for."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from ..knowledge import fork_scan
from ..knowledge.settings import Settings, display

#: Not the app's own code: dependencies, build output of other tools, tests.
_SKIP = {"node_modules", ".git", "coverage", "__tests__", "test", "tests", ".devstack"}
MAX_FILES = 400
MAX_BYTES = 1024 * 1024  # a bundle (dependencies inlined) is not the app's code: BullMQ itself forks


def folder(s: Settings) -> Path | None:
    """Where the app's code is: its sources, else the compiled entry's folder, else the app folder."""
    for candidate in (s.app_sources, s.dist_main.parent, s.app_dir):
        if candidate.is_dir():
            return candidate
    return None


def fork_sites(s: Settings) -> list[fork_scan.ForkSite]:
    """The files of the worker's code that fork Node processes (at most MAX_FILES files read)."""
    top = folder(s)
    if top is None:
        return []
    found: list[fork_scan.ForkSite] = []
    for path, text in own_code(top, s.app_dir):
        found += fork_scan.scan(display(path, s.root), text)
    return found


def own_code(top: Path, app_dir: Path) -> Iterator[tuple[Path, str]]:
    """The app's own code files with their text: the folder ``top``, then what they load from outside
    it by a relative path or through a workspace link (a shared package of the monorepo, where a
    worker's cluster or signal code often lives), as `tasks/runner/consumers.cjs` reads a container's.
    Dependencies (under node_modules), tests and bundles are not read; at most MAX_FILES files."""
    queue: deque[Path] = deque([top])
    seen: set[Path] = set()
    read = 0
    while queue and read < MAX_FILES:
        item = queue.popleft()
        real = item.resolve()  # a folder linked twice (or into itself) is read once
        if real in seen:
            continue
        seen.add(real)
        if item.is_dir():
            queue.extend(
                child
                for child in sorted(item.iterdir())
                if not child.name.startswith(".")
                and (child.is_file() or (child.name not in _SKIP and (child.name != "dist" or item != app_dir)))
            )
            continue
        name = item.name
        if not fork_scan.CODE.search(name) or ".test." in name or ".spec." in name or name.endswith(".d.ts"):
            continue
        try:
            if not item.is_file() or item.stat().st_size > MAX_BYTES:
                continue
            text = item.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        read += 1
        yield item, text
        queue.extend(_loads(item, text))


def _loads(file: Path, text: str) -> list[Path]:
    """The app's own code ``file`` loads: files by relative path, workspace packages' folders."""
    paths, packages = fork_scan.loaded(text)
    found = []
    for spec in paths:
        base = os.path.normpath(os.path.join(file.parent, spec))
        target = next(
            (Path(c) for c in fork_scan.candidates(base) if fork_scan.CODE.search(c) and Path(c).is_file()), None
        )
        if target is not None and "node_modules" not in target.parts:
            found.append(target)
    for name in packages:
        package = _workspace_package(file.parent, name)
        if package is not None:
            found.append(package)
    return found


def _workspace_package(start: Path, name: str) -> Path | None:
    """The folder of package ``name`` as Node finds it from ``start`` (the nearest node_modules up
    the tree) when it links outside any node_modules: a workspace package, the app's own code."""
    for here in (start, *start.parents):
        link = here / "node_modules" / name
        if link.exists():
            real = link.resolve()
            return None if "node_modules" in real.parts else real
    return None
