"""The project's Invoke configuration: defaults, and typed access to what the tasks read.

Defaults live here and are installed on the root collection (Invoke merges only the collections on
the path from the root to the invoked task). Users override them in ``invoke.yaml`` beside
``tasks.py`` or with ``INVOKE_<SECTION>_<KEY>`` environment variables, e.g.
``INVOKE_WORKER_SERVICE=jobs`` or ``INVOKE_COMPOSE_COMMAND="docker-compose"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tasks.knowledge.defaults import DEFAULTS

if TYPE_CHECKING:
    from invoke.context import Context

#: The checkout: tasks/knowledge/settings.py -> tasks/knowledge -> tasks -> the root.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigSections(Protocol):
    """What settings read of a configuration: ``config[section][key]`` (Invoke's Config, or a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True)
class Settings:
    """The configuration values the tasks use, resolved against the project root."""

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

    @classmethod
    def from_config(cls, config: ConfigSections, root: Path = PROJECT_ROOT) -> Settings:
        def get(section: str, key: str) -> object:
            try:
                return config[section][key]
            except (KeyError, TypeError):
                return DEFAULTS[section][key]

        def path(section: str, key: str) -> Path:
            value = Path(str(get(section, key)))
            return value if value.is_absolute() else root / value

        return cls(
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
        )


def display(path: Path, root: Path = PROJECT_ROOT) -> str:
    """A path as the user knows it: relative to the project root when inside it."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def settings(c: Context) -> Settings:
    """The settings of an Invoke context."""
    return Settings.from_config(c.config)
