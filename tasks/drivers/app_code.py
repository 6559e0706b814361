"""Reading a worker's own code on the host, for what `tasks.knowledge.fork_scan` looks for."""

from __future__ import annotations

import os
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
    read = 0
    for here, dirs, files in os.walk(top):
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP and not d.startswith(".") and (d != "dist" or here != str(s.app_dir))
        )
        for name in sorted(files):
            if not fork_scan.CODE.search(name) or ".test." in name or ".spec." in name or name.endswith(".d.ts"):
                continue
            path = Path(here) / name
            try:
                if path.stat().st_size > MAX_BYTES:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            read += 1
            found += fork_scan.scan(display(path, s.root), text)
            if read >= MAX_FILES:
                return found
    return found
