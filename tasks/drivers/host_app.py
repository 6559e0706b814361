"""The worker app on the host: is its compiled output there and fresh, and building it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..drivers import process
from ..knowledge.build_context import BuildInputs
from ..knowledge.command_line import split_command
from ..knowledge.failures import UserError
from ..knowledge.settings import Settings, display


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


def _context_files(build: BuildInputs, state_dir: Path | None = None) -> list[Path]:
    """The build context's files the Dockerfile copies (COPY/ADD of the stage built and the stages it
    needs, not from a stage), the Dockerfile itself; what `.dockerignore` leaves out, node_modules and
    .git left out (the lock file stands for the installed dependencies), and the tasks' own state
    folder (written by every call: a `COPY . .` would change with it)."""
    from ..knowledge.build_context import dockerfile_copy_sources, dockerignore

    try:
        text = build.dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    try:
        ignored = dockerignore(build.ignore_file().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        ignored = dockerignore(None)
    context = build.context

    def wanted(path: Path) -> bool:
        return not ignored(path.relative_to(context).as_posix()) and not (
            state_dir is not None and path.is_relative_to(state_dir)
        )

    found: list[Path] = [build.dockerfile]
    for source in dockerfile_copy_sources(text, build.target, dict(build.args)):
        for path in sorted(context.glob(source.lstrip("/"))) if source.strip("/.") else [context]:
            if path.is_file() and wanted(path):
                found.append(path)
            elif path.is_dir():
                found += sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and not {"node_modules", ".git"} & set(p.parts) and wanted(p)
                )
    return found


def source_fingerprint(s: Settings, build: BuildInputs | None = None) -> str | None:
    """A short hash of what an image-built worker is built from: its sources, package.json and lock file,
    and (given the service's build context and Dockerfile) every context file the Dockerfile copies, so
    an entry file outside the sources folder counts too.

    Passed to the image build (see `fingerprint_var`) and read back from the image's label, so an
    image built from other sources is noticed.
    """
    from ..drivers.workers import LocalFiles
    from ..knowledge import package_manager

    inputs: list[Path] = []
    if s.app_sources.is_dir():
        inputs += sorted(p for p in s.app_sources.rglob("*") if p.is_file() and "node_modules" not in p.parts)
    lock = package_manager.detect(s.app_dir, s.root, LocalFiles()).lock_file
    inputs += [p for p in (s.app_dir / "package.json", lock) if p is not None and p.is_file()]
    if build is not None:
        inputs += _context_files(build, state_dir=s.state_dir)
    inputs = list(dict.fromkeys(inputs))  # each file once, first place kept
    if not inputs:
        return None
    digest = hashlib.sha256()
    for path in inputs:
        digest.update(display(path, s.root).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint_var(s: Settings) -> str:
    """The variable the compose file passes to the image build as the fingerprint argument.

    DIST_FINGERPRINT for a host-built worker (this repository's own); SOURCE_FINGERPRINT_<SERVICE>
    for one built in its image, one per worker so two image-built workers never share it.
    """
    if s.build_mode == "host":
        return "DIST_FINGERPRINT"
    suffix = "".join(ch if ch.isalnum() else "_" for ch in s.service.upper())
    return f"SOURCE_FINGERPRINT_{suffix}"


def image_fingerprint(s: Settings, build: BuildInputs | None = None) -> str | None:
    """What the worker image should be labelled with: the dist/ build, or what it is built from
    (``build``: the service's build context and Dockerfile, when known)."""
    return dist_fingerprint(s) if s.build_mode == "host" else source_fingerprint(s, build)


def dist_problem(s: Settings) -> str | None:
    """Why the compiled output cannot be used as it is (missing, or older than the sources).

    None for a worker whose image builds the app, or that has no build step: dist/ on the host is
    not what it runs.
    """
    if not s.dist_checked:
        return None
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
    """Run one of the app's package-manager commands (install, build) where it belongs."""
    cwd = (s.install_cwd if what == "install" else s.app_cwd) or s.app_dir
    print(f"[{what}] {command}", flush=True)
    result = process.run(split_command(command), cwd=cwd)
    if not result.ok:
        raise UserError(f"{what} failed (`{command}` exited {result.returncode}); see its output above")


def build(s: Settings, *, pulled: bool = False) -> None:
    """Install the app's dependencies when they are absent, then build it (host-built workers only).

    ``pulled``: the worker service has no `build:` section (it runs a pulled image): nothing is built."""
    name = s.worker_name or s.service
    if pulled and s.build_mode != "host":
        print(
            f"[build] {name}: runs a pulled image (its service has no `build:`): nothing to build; "
            f"`docker compose pull {s.service}` updates the image",
            flush=True,
        )
        return
    if s.build_mode != "host":
        how = "its image builds the app" if s.build_mode == "image" else "the app has no build step"
        print(f"[build] {name}: {how}; rebuilding the image only", flush=True)
        return
    if not (s.root / "node_modules").is_dir() and not (s.app_dir / "node_modules").is_dir():
        run_app_command(s, s.app_install, "install")
    run_app_command(s, s.app_build, "build")


def compiled_output_note(s: Settings, *, pulled: bool = False) -> str | None:
    """What a prod-like run can promise about "compiled output" for this worker (None: host-built, checked).
    ``pulled``: its service has no `build:` (the image is used as it was built elsewhere)."""
    if pulled and s.build_mode != "host":
        return (
            f"{s.service} runs a pulled image: the prod-like run uses it as it was built (`docker compose pull "
            f"{s.service}` updates it), whatever it runs"
        )
    if s.build_mode == "image":
        return (
            f"{s.service} is built inside its image: the prod-like run uses the image's own build (rebuilt "
            "with --build or when its sources changed), not dist/ on the host"
        )
    if s.build_mode == "none":
        return (
            f"{s.service} has no build step: the prod-like run checks caps and heap, but cannot promise that "
            "compiled output runs (the container runs what its command runs, e.g. tsx on the sources)"
        )
    return None
