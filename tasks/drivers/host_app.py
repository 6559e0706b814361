"""The worker app on the host: is its compiled output there and fresh, and building it."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

from tasks.drivers import process
from tasks.knowledge.failures import UserError
from tasks.knowledge.settings import Settings, display


def newest_source(sources: Path) -> Path | None:
    newest = None
    for path in sources.rglob("*"):
        if path.is_file() and (newest is None or path.stat().st_mtime > newest.stat().st_mtime):
            newest = path
    return newest


def dist_fingerprint(s: Settings) -> str | None:
    """A short hash of the compiled output's files (names and contents), None if there is none.

    The worker image carries it as a label, so an image holding another build is noticed whatever
    the timestamps say.
    """
    folder = s.dist_main.parent
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    # The bundles decide what runs; their source maps follow them, so they need not be read.
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".map"):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dist_problem(s: Settings) -> str | None:
    """Why the compiled output cannot be used as it is (missing, or older than the sources)."""
    rel = display(s.dist_main, s.root)
    if not s.dist_main.is_file():
        return f"the compiled worker `{rel}` is missing"
    newest = newest_source(s.app_sources) if s.app_sources.is_dir() else None
    if newest is not None and newest.stat().st_mtime > s.dist_main.stat().st_mtime:
        src = display(newest, s.root)
        return f"the compiled worker `{rel}` is older than `{src}`"
    return None


def require_dist(s: Settings, *, allow_stale: bool) -> None:
    """Refuse with one line when the compiled output is missing (or stale, unless allowed)."""
    problem = dist_problem(s)
    if problem is None:
        return
    missing = not s.dist_main.is_file()
    if missing or not allow_stale:
        raise UserError(f"{problem}: build it with `--build` (or `{s.app_build}` in {s.app_dir.name})")
    print(f"warning: {problem}; pass --build to rebuild it", flush=True)


def run_app_command(s: Settings, command: str, what: str) -> None:
    """Run one of the app's package-manager commands (install, build) in the app folder."""
    print(f"[{what}] {command}", flush=True)
    result = process.run(shlex.split(command), cwd=s.app_dir)
    if not result.ok:
        raise UserError(f"{what} failed (`{command}` exited {result.returncode}); see its output above")


def build(s: Settings) -> None:
    """Install the app's dependencies when they are absent, then build it."""
    if not (s.root / "node_modules").is_dir() and not (s.app_dir / "node_modules").is_dir():
        run_app_command(s, s.app_install, "install")
    run_app_command(s, s.app_build, "build")
