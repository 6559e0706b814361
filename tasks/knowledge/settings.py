"""The project's Invoke configuration: defaults, and typed access to what the tasks read.

Defaults live here and are installed on the root collection (Invoke merges only the collections on
the path from the root to the invoked task). Users override them in ``invoke.yaml`` beside
``tasks.py`` or with ``INVOKE_<SECTION>_<KEY>`` environment variables, e.g.
``INVOKE_WORKER_SERVICE=jobs`` or ``INVOKE_COMPOSE_COMMAND="docker-compose"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from tasks.knowledge.defaults import DEFAULTS, WORKER_DEFAULTS
from tasks.knowledge.failures import UserError

if TYPE_CHECKING:
    from invoke.context import Context

#: The checkout: tasks/knowledge/settings.py -> tasks/knowledge -> tasks -> the root.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigSections(Protocol):
    """What settings read of a configuration: ``config[section][key]`` (Invoke's Config, or a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


#: How a worker's app becomes what its container runs:
#: host  - built on the host (`app.build`), the image packs the host's dist/ (this repository's case)
#: image - built inside the image (a multi-stage Dockerfile): `--build` rebuilds the image, dist/ on
#:         the host is not what runs
#: none  - no build step at all (`tsx src/index.ts`, `node --loader ts-node/esm ...`)
BUILD_MODES = ("host", "image", "none")


def config_path(value: str, root: PurePath) -> PurePath:
    """A configured path, relative to ``root`` unless absolute.

    Backslashes are folder separators in a configuration written on Windows; on POSIX they become
    ``/`` so one invoke.yaml serves a team on both (a POSIX file name with a backslash is not worth
    that). Spaces are kept as they are: paths are never passed through a shell.
    """
    flavour = type(root)
    path = flavour(value.replace("\\", "/")) if isinstance(root, PurePosixPath) else flavour(value)
    return path if path.is_absolute() else root / path


@dataclass(frozen=True)
class WorkerSettings:
    """One background worker service and the app it runs (an entry of `workers:` in invoke.yaml)."""

    name: str  # what the user types: `inv worker.up email`
    service: str
    profile: str
    image: str  # "" = as the compose file names it
    app_dir: Path
    app_install: str  # "" = from the package manager (lock file)
    app_build: str
    app_dev: str
    app_start_gate: bool
    dist_main: Path
    app_sources: Path
    build_mode: str  # one of BUILD_MODES


@dataclass(frozen=True)
class Settings:
    """The configuration values the tasks use, resolved against the project root.

    The single-worker attributes (``service``, ``profile``, ``app_dir``...) are those of one worker:
    the default (first) one, or the one chosen with ``worker(name)``. ``workers`` lists them all.
    """

    root: Path
    compose_command: str
    compose_files: str
    env_file: Path
    env_example: Path
    service: str
    profile: str
    worker_image: str
    scheduler_var: str
    host_port_vars: str
    url_vars: str
    app_dir: Path
    app_install: str
    app_build: str
    app_dev: str
    app_start_gate: bool
    dist_main: Path
    app_sources: Path
    prodlike_file: str
    state_dir: Path
    workers: tuple[WorkerSettings, ...] = ()
    worker_name: str = ""
    build_mode: str = "host"
    #: Where build/dev and install run when they differ from ``app_dir`` (a workspace filter runs at
    #: the workspace root); and what recognised the package manager, for messages.
    app_cwd: Path | None = None
    install_cwd: Path | None = None
    package_manager: str = ""

    @property
    def run_dir(self) -> Path:
        """Where the build and dev commands run."""
        return self.app_cwd or self.app_dir

    @property
    def dist_checked(self) -> bool:
        """Is the host's dist/ what the container runs (so its freshness matters)?"""
        return self.build_mode == "host"

    # -- several workers ----------------------------------------------------------------------
    def worker(self, name: str | None = None) -> Settings:
        """These settings with the single-worker attributes of the named worker (default: the first)."""
        if not self.workers:
            return self
        if not name:
            chosen = self.workers[0]
        else:
            matches = [w for w in self.workers if name in (w.name, w.service)]
            if not matches:
                known = ", ".join(w.name for w in self.workers)
                raise UserError(f"no worker named {name!r} in invoke.yaml (workers: {known})")
            chosen = matches[0]
        return replace(
            self,
            worker_name=chosen.name,
            service=chosen.service,
            profile=chosen.profile,
            worker_image=chosen.image or (self.worker_image if chosen is self.workers[0] else ""),
            app_dir=chosen.app_dir,
            app_install=chosen.app_install,
            app_build=chosen.app_build,
            app_dev=chosen.app_dev,
            app_start_gate=chosen.app_start_gate,
            dist_main=chosen.dist_main,
            app_sources=chosen.app_sources,
            build_mode=chosen.build_mode,
            app_cwd=None,
            install_cwd=None,
            package_manager="",
        )

    def selected(self, name: str | None = None) -> list[Settings]:
        """Every worker (no name), or the named one."""
        if name:
            return [self.worker(name)]
        return [self.worker(w.name) for w in self.workers] or [self]

    @property
    def several_workers(self) -> bool:
        return len(self.workers) > 1

    @classmethod
    def from_config(cls, config: ConfigSections, root: Path = PROJECT_ROOT) -> Settings:
        def get(section: str, key: str) -> object:
            try:
                return config[section][key]
            except (KeyError, TypeError):
                return DEFAULTS[section][key]

        def path(section: str, key: str) -> Path:
            return Path(config_path(str(get(section, key)), root))

        workers = _workers(config, root, get, path)
        legacy = cls(
            root=root,
            compose_command=str(get("compose", "command") or ""),
            compose_files=str(get("compose", "files") or ""),
            env_file=path("compose", "env_file"),
            env_example=path("compose", "env_example"),
            service=str(get("worker", "service")),
            profile=str(get("worker", "profile")),
            worker_image=str(get("worker", "image")),
            scheduler_var=str(get("worker", "scheduler_var") or "ENABLE_SCHEDULER"),
            host_port_vars=str(get("dev", "host_port_vars") or ""),
            url_vars=str(get("dev", "url_vars") or ""),
            app_dir=path("app", "dir"),
            app_install=str(get("app", "install")),
            app_build=str(get("app", "build")),
            app_dev=str(get("app", "dev")),
            app_start_gate=bool(get("app", "start_gate")),
            dist_main=path("app", "dist_main"),
            app_sources=path("app", "sources"),
            prodlike_file=str(get("prodlike", "file")),
            state_dir=path("state", "dir"),
            workers=workers,
        )
        return legacy.worker()


def _workers(config: ConfigSections, root: Path, get: Any, path: Any) -> tuple[WorkerSettings, ...]:
    """`workers:` entries, or the one worker of the `worker:` and `app:` sections."""
    try:
        entries = config["workers"]
    except (KeyError, TypeError):
        entries = None
    if not entries:
        return (
            WorkerSettings(
                name=str(get("worker", "service")),
                service=str(get("worker", "service")),
                profile=str(get("worker", "profile") or ""),
                image=str(get("worker", "image") or ""),
                app_dir=path("app", "dir"),
                app_install=str(get("app", "install") or ""),
                app_build=str(get("app", "build") or ""),
                app_dev=str(get("app", "dev") or ""),
                app_start_gate=bool(get("app", "start_gate")),
                dist_main=path("app", "dist_main"),
                app_sources=path("app", "sources"),
                build_mode=_build_mode(get("app", "build_mode"), "app.build_mode"),
            ),
        )
    if not isinstance(entries, list):
        raise UserError("`workers` in invoke.yaml must be a list of worker entries (see docs/adopting.md)")
    result = []
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise UserError(f"`workers[{index}]` in invoke.yaml must be a mapping with at least `name` or `service`")
        entry = {**WORKER_DEFAULTS, **{str(k): v for k, v in raw.items() if v is not None}}
        unknown = sorted(set(entry) - set(WORKER_DEFAULTS))
        if unknown:
            raise UserError(f"`workers[{index}]` in invoke.yaml: unknown key(s) {', '.join(unknown)}")
        name = str(entry["name"] or entry["service"] or "")
        if not name:
            raise UserError(f"`workers[{index}]` in invoke.yaml needs a `name` or a `service`")
        app_dir = Path(config_path(str(entry["dir"]), root))
        dist = str(entry["dist_main"] or "")
        mode = entry["build_mode"] or ("host" if dist else "none")
        result.append(
            WorkerSettings(
                name=name,
                service=str(entry["service"] or name),
                profile=str(entry["profile"] or ""),
                image=str(entry["image"] or ""),
                app_dir=app_dir,
                app_install=str(entry["install"] or ""),
                app_build=str(entry["build"] or ""),
                app_dev=str(entry["dev"] or ""),
                app_start_gate=bool(entry["start_gate"]),
                dist_main=Path(config_path(dist, root)) if dist else app_dir / "dist" / "main.js",
                app_sources=Path(config_path(str(entry["sources"]), root)) if entry["sources"] else app_dir / "src",
                build_mode=_build_mode(mode, f"workers[{index}].build_mode"),
            )
        )
    names = [w.name for w in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"`workers` in invoke.yaml names {', '.join(duplicates)} more than once")
    return tuple(result)


def _build_mode(value: object, key: str) -> str:
    mode = str(value or "host")
    if mode not in BUILD_MODES:
        raise UserError(f"`{key}` in invoke.yaml is {mode!r}: use one of {', '.join(BUILD_MODES)}")
    return mode


def display(path: Path, root: Path = PROJECT_ROOT) -> str:
    """A path as the user knows it: relative to the project root when inside it."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def settings(c: Context) -> Settings:
    """The settings of an Invoke context."""
    return Settings.from_config(c.config)
