"""`inv adopt`: which workspace package a compose service runs, and whether that makes it a queue consumer (pure).

Evidence, most direct first:

1. The build: the Dockerfile's folder or the build context (one Dockerfile at the root for several
   services: the member a build arg names).
2. What the service runs: a JS/TS file in its entrypoint/command, resolved through its working
   directory and bind mounts; else its working directory itself mapped back through the mounts
   (`working_dir: /app/apps/worker` with `../../:/app` -> apps/worker).
3. A guess, said as one: a service with no build whose image or service name is a member's folder or
   package name (`image: reg/org/workers:latest`, `apps/workers`).

A service is a consumer when the package it runs uses a queue library (in its own package.json, or
the workspace root's for a member: hoisted dependencies). The workspace root's dependencies are no
evidence for a service that runs the root itself in a workspace with members (services bind-mounting
the repository, `.:/app`): there the file it runs must import the library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol

#: Queue libraries whose presence in an app's (or its workspace root's) package.json makes a consumer.
QUEUE_LIBRARIES = ("bullmq", "bull", "bee-queue", "agenda")
_CODE = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx")


class Files(Protocol):
    """The workspace's files by root-relative posix path."""

    def exists(self, path: str) -> bool: ...

    def read(self, path: str) -> str | None: ...


@dataclass(frozen=True)
class Package:
    """One package.json of the workspace: its folder (relative to the root, posix), name, dependencies,
    and what says how it runs (its scripts, `main`, `bin`)."""

    dir: str
    name: str = ""
    dependencies: frozenset[str] = frozenset()
    scripts: tuple[tuple[str, str], ...] = ()
    main: str = ""
    bin: tuple[str, ...] = ()

    @property
    def script_map(self) -> dict[str, str]:
        return dict(self.scripts)


@dataclass(frozen=True)
class App:
    """The package a service runs, how it was found, and the file it runs (root-relative) when known."""

    package: Package
    how: str  # "build", "command", "working_dir", "guess"
    entry: str = ""
    guessed_from: str = ""  # for a guess: the name that matched


def as_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return value.split()
    return []


def _relative(path: str, root: PurePosixPath) -> PurePosixPath | None:
    try:
        return PurePosixPath(path).relative_to(root)
    except ValueError:
        return None


def _names(package: Package) -> set[str]:
    return {PurePosixPath(package.dir).name, package.name, package.name.rpartition("/")[2]} - {""}


def _package_named_by_args(args: object, packages: dict[str, Package]) -> Package | None:
    """The one workspace member a build arg names (its folder's name, or its package name with or
    without the scope), else None (none, or more than one)."""
    if not isinstance(args, dict):
        return None
    values = {str(v) for v in args.values() if v}
    matches = {p.dir: p for p in packages.values() if p.dir != "." and values & _names(p)}
    return next(iter(matches.values())) if len(matches) == 1 else None


def _nearest_package(rel: PurePosixPath | None, packages: dict[str, Package]) -> Package | None:
    """The package.json at or above a path (relative to the root), if any."""
    if rel is None:
        return None
    for folder in [rel, *rel.parents]:
        key = folder.as_posix() if folder.parts else "."
        if key in packages:
            return packages[key]
    return None


def _has_members(packages: dict[str, Package]) -> bool:
    return any(key != "." for key in packages)


def _image_name(image: object) -> str:
    """`registry.example.com:5000/org/workers:latest@sha256:...` -> `workers`."""
    text = str(image or "").partition("@")[0]
    last = text.rpartition("/")[2]
    return last.partition(":")[0].lower()


def guess_member(name: str, image: object, packages: dict[str, Package]) -> tuple[Package, str] | None:
    """The one member whose folder or package name is the service's or its image's name, with the name."""
    for wanted in dict.fromkeys([_image_name(image), name.lower()]):
        if not wanted:
            continue
        matches = [p for p in packages.values() if p.dir != "." and wanted in {n.lower() for n in _names(p)}]
        if len(matches) == 1:
            return matches[0], wanted
    return None


def app_of(raw: dict[str, Any], name: str, root: PurePosixPath, packages: dict[str, Package]) -> App | None:
    """The app a service runs (see the module's docstring for the order of the evidence)."""
    build = raw.get("build")
    if isinstance(build, dict) and build.get("context"):
        context = PurePosixPath(str(build["context"]))
        dockerfile = PurePosixPath(str(build.get("dockerfile") or "Dockerfile"))
        dockerfile = dockerfile if dockerfile.is_absolute() else context / dockerfile
        for candidate in (dockerfile.parent, context):
            found = _nearest_package(_relative(str(candidate), root), packages)
            if found is not None:
                # One Dockerfile for several services (infra/worker.Dockerfile, `args: {SERVICE: mailer}`):
                # the workspace root is only where it lives; a build arg naming one member says which.
                named = _package_named_by_args(build.get("args"), packages) if found.dir == "." else None
                return App(named or found, "build")
    workdir = PurePosixPath(str(raw.get("working_dir") or "/"))
    mounts = sorted(
        (
            (PurePosixPath(str(v["target"])), PurePosixPath(str(v["source"])))
            for v in raw.get("volumes") or []
            if isinstance(v, dict) and v.get("type") == "bind" and v.get("source") and v.get("target")
        ),
        key=lambda m: -len(m[0].parts),
    )

    def on_host(inside: PurePosixPath) -> PurePosixPath | None:
        for target, source in mounts:
            try:
                return _relative(str(source / inside.relative_to(target)), root)
            except ValueError:
                continue
        return None

    for arg in as_list(raw.get("entrypoint")) + as_list(raw.get("command")):
        code = PurePosixPath(arg).suffix in _CODE
        if not code and "/" not in arg:
            continue
        host = on_host(workdir / arg)
        found = _nearest_package(host, packages)
        # a path that is no code file (a config file, `-c /etc/x.conf`) counts only inside a member
        if found is not None and (code or found.dir != "."):
            return App(found, "command", host.as_posix() if code and host is not None else "")
    if raw.get("working_dir"):
        found = _nearest_package(on_host(workdir), packages)
        if found is not None:
            return App(found, "working_dir")
    if not build:
        guessed = guess_member(name, raw.get("image"), packages)
        if guessed is not None:
            return App(guessed[0], "guess", guessed_from=guessed[1])
    return None


def _imports(text: str | None, library: str) -> bool:
    if not text:
        return False
    quoted = rf"""["']{re.escape(library)}(/[^"']*)?["']"""
    return re.search(rf"(\bfrom\s*{quoted}|\brequire\s*\(\s*{quoted}|\bimport\s*\(?\s*{quoted})", text) is not None


def queue_library(app: App, packages: dict[str, Package], files: Files | None = None) -> str | None:
    """What makes the app a queue consumer ("bullmq in its package.json", "imports bullmq"), or None."""
    package = app.package
    if package.dir == "." and _has_members(packages):
        # A workspace root's dependencies serve its members: evidence only in the file the service runs.
        text = files.read(app.entry) if files is not None and app.entry else None
        library = next((lib for lib in QUEUE_LIBRARIES if _imports(text, lib)), None)
        return f"{app.entry} imports {library}" if library else None
    rel = PurePosixPath(package.dir)
    for folder in [rel, *rel.parents]:
        found = packages.get(folder.as_posix() if folder.parts else ".")
        for library in QUEUE_LIBRARIES:
            if found is not None and library in found.dependencies:
                if found.dir == package.dir:
                    where = "its package.json"
                else:
                    where = "the root package.json" if found.dir == "." else f"{found.dir}/package.json"
                return f"{library} in {where}"
    return None
