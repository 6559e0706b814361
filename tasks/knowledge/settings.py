"""The project's Invoke configuration, read strictly into what the tasks use.

The keys are declared in ``defaults.py`` (installed on the root collection: Invoke merges only the
collections on the path from the root to the invoked task). Users override them in ``invoke.yaml``
beside ``tasks.py``, in ``~/.invoke.yaml``, or with ``INVOKE_<SECTION>_<KEY>`` environment variables,
e.g. ``INVOKE_WORKER_SERVICE=jobs`` or ``INVOKE_COMPOSE_COMMAND="docker-compose"``.

Every key of our sections is known: an unknown one is refused in one line naming the nearest known
key, a value of the wrong type too. The single-worker form (``worker:`` + ``app:``) is read as a
one-entry ``workers:`` list, so both forms mean the same thing with the same defaults.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from ..knowledge.defaults import (
    BOOL,
    BUILD_MODES,
    CHOICE,
    DURATION,
    FILES,
    LIST,
    MAPPING,
    NEVER,
    PATH,
    PROJECT_KEYS,
    SECTIONS,
    WORKER_KEYS,
    Key,
    WorkerSettings,
)
from ..knowledge.failures import UserError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from invoke.context import Context

__all__ = ["BUILD_MODES", "PROJECT_ROOT", "Settings", "WorkerSettings", "config_path", "display", "settings"]

#: The checkout: tasks/knowledge/settings.py -> tasks/knowledge -> tasks -> the root. Installed (as
#: devstack_tasks) this is site-packages, never the project: see `project_root`.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def project_root(config: object) -> Path:
    """The folder of the ``tasks.py`` Invoke loaded: the project, wherever this package is installed.

    Invoke's Program records that folder with ``config.set_project_location`` (the private
    ``_project_prefix``, read defensively; tests/unit/test_packaging.py pins it). A configuration
    built without it (unit tests): this checkout when a ``tasks.py`` loads it, else the working folder.
    """
    prefix = getattr(config, "_project_prefix", None)
    if isinstance(prefix, str) and prefix:
        return Path(prefix).resolve()
    return PROJECT_ROOT if (PROJECT_ROOT / "tasks.py").is_file() else Path.cwd()


class ConfigSections(Protocol):
    """What settings read of a configuration: ``config[section][key]`` (Invoke's Config, or a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


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
class Settings:
    """The configuration values the tasks use, resolved against the project root.

    ``current`` is one worker: the default (first) one, or the one chosen with ``worker(name)``;
    the single-worker attributes (``service``, ``app_dir``...) read it. ``workers`` lists them all.
    """

    root: Path
    compose_command: str
    compose_files: tuple[str, ...]
    #: None: the .env Compose itself reads; a path: passed with --env-file
    env_file: Path | None
    env_example: Path
    scheduler_var: str
    host_port_vars: tuple[str, ...]
    url_vars: tuple[str, ...]
    prodlike_file: str
    state_dir: Path
    workers: tuple[WorkerSettings, ...]
    current: WorkerSettings
    #: Where build/dev and install run when they differ from ``app_dir`` (a workspace filter runs at
    #: the workspace root); and what recognised the package manager, for messages.
    app_cwd: Path | None = None
    install_cwd: Path | None = None
    package_manager: str = ""
    #: Where the dev command runs when it differs from ``app_cwd`` (a configured `dev` runs in the app
    #: folder even when the detected build runs at the workspace root).
    dev_cwd: Path | None = None

    # -- the chosen worker's values, under the names the tasks have always read ------------------
    @property
    def worker_name(self) -> str:
        return self.current.name

    @property
    def service(self) -> str:
        return self.current.service

    @property
    def profile(self) -> str:
        return self.current.profile

    @property
    def worker_image(self) -> str:
        return self.current.image

    @property
    def app_dir(self) -> Path:
        return self.current.app_dir

    @property
    def app_install(self) -> str:
        return self.current.app_install

    @property
    def app_build(self) -> str:
        return self.current.app_build

    @property
    def app_dev(self) -> str:
        return self.current.app_dev

    @property
    def app_start_gate(self) -> bool:
        return self.current.app_start_gate

    @property
    def app_redis_relay(self) -> bool:
        return self.current.app_redis_relay

    @property
    def dist_main(self) -> Path:
        return self.current.dist_main

    @property
    def app_sources(self) -> Path:
        return self.current.app_sources

    @property
    def build_mode(self) -> str:
        return self.current.build_mode

    @property
    def run_dir(self) -> Path:
        """Where the dev command runs."""
        return self.dev_cwd or self.app_cwd or self.app_dir

    @property
    def dist_checked(self) -> bool:
        """Is the host's dist/ what the container runs (so its freshness matters)?"""
        return self.build_mode == "host"

    # -- several workers ----------------------------------------------------------------------
    def worker(self, name: str | None = None) -> Settings:
        """These settings with the named worker as the current one (default: the first)."""
        if not name:
            chosen = self.workers[0]
        else:
            matches = [w for w in self.workers if name in (w.name, w.service)]
            if not matches:
                known = ", ".join(w.name for w in self.workers)
                raise UserError(f"no worker named {name!r} in invoke.yaml (workers: {known})")
            chosen = matches[0]
        if (
            chosen is self.current
            and self.app_cwd is None
            and self.install_cwd is None
            and self.dev_cwd is None
            and not self.package_manager
        ):
            return self
        return replace(self, current=chosen, app_cwd=None, install_cwd=None, dev_cwd=None, package_manager="")

    def selected(self, name: str | None = None) -> list[Settings]:
        """Every worker (no name), or the named one."""
        if name:
            return [self.worker(name)]
        return [self.worker(w.name) for w in self.workers]

    @property
    def several_workers(self) -> bool:
        return len(self.workers) > 1

    @classmethod
    def from_config(
        cls, config: ConfigSections, root: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read and check a configuration (Invoke's, or a dict; missing sections take the defaults).

        Paths are resolved against ``root``, by default `project_root` (the loaded tasks.py's folder).

        ``environ``, when given, is checked for misspelt ``INVOKE_*`` variables of our sections
        (Invoke ignores a variable naming no known key without a word).
        """
        if root is None:
            root = project_root(config)
        _check_sections(config)
        if environ is not None:
            _check_environ(environ, config)
        sections = {name: _section(config, name) for name in SECTIONS}
        for name, values in sections.items():
            _check_keys(name, values, _KNOWN[name])
        if environ is not None:
            _booleans_as_written(environ, sections)
        project = {key.attr: _read(key, sections[key.section], key.path, root) for key in PROJECT_KEYS}
        entries = _top(config, "workers")
        if entries in (None, [], ()):
            # The single-worker form: the worker keys of `worker:` and `app:` as one entry.
            legacy = {k.name: sections[k.section][k.name] for k in WORKER_KEYS if k.name in sections[k.section]}
            workers: tuple[WorkerSettings, ...] = (_worker(legacy, root, {k.name: k.path for k in WORKER_KEYS}),)
        elif not isinstance(entries, list | tuple):
            got = _shown(entries)
            raise UserError(f"workers: expected a list of worker entries, got {got} (see docs/configuration.md)")
        else:
            workers = tuple(_entry(index, raw, root) for index, raw in enumerate(entries))
        names = [w.name for w in workers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise UserError(f"workers: {', '.join(duplicates)} named more than once")
        return cls(root=root, workers=workers, current=workers[0], **project)


#: The known keys of each of our sections.
_KNOWN: dict[str, dict[str, Key]] = {name: {} for name in SECTIONS}
for _k in (*PROJECT_KEYS, *WORKER_KEYS):
    _KNOWN[_k.section][_k.name] = _k
_WORKER_SECTIONS = {k.section for k in WORKER_KEYS}
#: The keys of a `workers:` entry.
_ENTRY_KEYS: dict[str, Key] = {k.name: k for k in WORKER_KEYS}


def _plain(value: object) -> object:
    """Invoke's DataProxy (a section, a nested mapping) as a dict, in lists too; anything else as it is."""
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys") and not isinstance(value, str)):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _top(config: ConfigSections, name: str) -> object:
    try:
        return _plain(config[name])
    except (KeyError, TypeError, AttributeError):
        return None


def _section(config: ConfigSections, name: str) -> dict[str, Any]:
    value = _top(config, name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{name}: expected a mapping of keys, got {_shown(value)}")
    return value


def _check_keys(where: str, values: Mapping[str, object], known: Mapping[str, Key]) -> None:
    for name in values:
        if name in known:
            continue
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        if close:
            raise UserError(f"{where}.{name}: unknown key; did you mean {close[0]}?")
        # A key of another section (`worker.dir`): a per-worker key first when this section holds some.
        order = (*WORKER_KEYS, *PROJECT_KEYS) if where in _WORKER_SECTIONS else (*PROJECT_KEYS, *WORKER_KEYS)
        elsewhere = [k.path for k in order if k.name == name and k.section != where]
        if elsewhere and not where.startswith("workers["):
            raise UserError(f"{where}.{name}: unknown key; did you mean {elsewhere[0]}?")
        raise UserError(f"{where}.{name}: unknown key (known: {', '.join(sorted(known))})")


def _check_sections(config: ConfigSections) -> None:
    """A top-level section close to one of ours but naming none (`prodlik:`, `compse:`): refused with the
    nearest, since it would be ignored and the next error would mislead. Only near misses: other
    top-level keys (Invoke's own `run:`, `tasks:`, or a project's) are left alone."""
    keys = getattr(config, "keys", None)
    if not callable(keys):
        return
    ours = (*SECTIONS, "workers")
    for name in sorted(str(k) for k in keys()):
        if name in ours:
            continue
        close = difflib.get_close_matches(name.lower(), ours, n=1, cutoff=0.75)
        if close:
            raise UserError(f"{name}: unknown top-level section of the configuration; did you mean {close[0]}?")


def _check_environ(environ: Mapping[str, str], config: ConfigSections) -> None:
    """An ``INVOKE_<SECTION>_<KEY>`` variable close to one of our keys but naming none of them.

    Only near misses are refused: a variable of someone else's top-level key (``INVOKE_APP_NAME`` for
    an ``app_name:`` of theirs) stays theirs.
    """
    keys = getattr(config, "keys", None)
    theirs = {str(k).lower() for k in keys()} - set(SECTIONS) if callable(keys) else set()
    for var in sorted(environ):
        rest = var.lower().removeprefix("invoke_")
        if rest == var.lower() or any(rest == t or rest.startswith(f"{t}_") for t in theirs):
            continue
        section = next((name for name in SECTIONS if rest.startswith(f"{name}_")), None)
        if section is None:
            continue
        key = rest[len(section) + 1 :]
        known = _KNOWN[section]
        if key in known:
            continue
        mapping = next((k for k in known.values() if k.kind == MAPPING and key.startswith(f"{k.name}_")), None)
        if mapping is not None:
            raise UserError(
                f"{var}: {mapping.path} is a mapping, which Invoke cannot set from a variable: "
                f"set it in invoke.yaml, or the variable itself in your shell"
            )
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
        if close:
            raise UserError(
                f"{var}: unknown key {section}.{key}; did you mean INVOKE_{section.upper()}_{close[0].upper()}?"
            )


def _booleans_as_written(environ: Mapping[str, str], sections: dict[str, dict[str, Any]]) -> None:
    """``INVOKE_APP_START_GATE=false`` means false.

    Invoke casts a variable for a boolean key as ``value not in ("0", "")``, so ``false``, ``no`` and
    ``off`` would read as true. Those words are taken as written; anything else but 0/1 and
    true/false, yes/no, on/off is refused in one line.
    """
    for key in (*PROJECT_KEYS, *WORKER_KEYS):
        if key.kind != BOOL:
            continue
        var = f"INVOKE_{key.section}_{key.name}".upper()
        if var not in environ:
            continue
        written = environ[var].strip().lower()
        if written not in (*_TRUE, *_FALSE):
            raise UserError(f"{var}={environ[var]}: expected true or false (1/0, yes/no, on/off)")
        sections[key.section][key.name] = written in _TRUE


def _shown(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0", "")


def _read(key: Key, values: Mapping[str, object], where: str, root: Path) -> Any:
    """One value of a section or entry, checked and converted (null or missing: the default)."""
    raw = values.get(key.name)
    if raw is None:
        raw = key.default
    if key.kind == BOOL:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in (*_TRUE, *_FALSE):
            return raw.strip().lower() in _TRUE
        raise UserError(f"{where}: expected true/false, got {_shown(raw)}")
    if key.kind in (LIST, FILES):
        return _list(raw, where, separators=(",", os.pathsep) if key.kind == FILES else (",", ";"))
    if key.kind == MAPPING:
        return _mapping(raw, where)
    if key.kind == DURATION:
        return _duration(raw, where)
    text = _string(raw, where)
    if key.kind == CHOICE and text and text not in key.choices:
        raise UserError(f"{where}: expected one of {', '.join(key.choices)}, got {text!r}")
    if key.kind == PATH:
        if not text and not key.default:
            return None  # a path whose default is empty (compose.env_file): "what Compose itself reads"
        return Path(config_path(text, root))
    return text


def _duration(raw: object, where: str) -> float | None:
    """Seconds of a duration (`60s`, `1m30s`); None for `never`."""
    from .durations import duration_seconds

    text = _string(raw, where).strip()
    if text == NEVER:
        return None
    seconds = duration_seconds(text)
    if seconds is None or seconds <= 0:
        raise UserError(f"{where}: expected a duration such as 60s or 2m, or {NEVER}, got {_shown(raw)}")
    return seconds


def _string(raw: object, where: str) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise UserError(f"{where}: expected a string, got {_shown(raw)}")


def _list(raw: object, where: str, separators: tuple[str, ...]) -> tuple[str, ...]:
    """A YAML list, or one string of items separated by any of ``separators``."""
    if isinstance(raw, list | tuple):
        items = [_string(item, f"{where}[{i}]").strip() for i, item in enumerate(raw)]
    else:
        text = _string(raw, where)
        for separator in separators[1:]:
            text = text.replace(separator, separators[0])
        items = [item.strip() for item in text.split(separators[0])]
    return tuple(item for item in items if item)


def _mapping(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping of NAME: value, got {_shown(raw)}")
    result = {}
    for name, value in raw.items():
        if value is None:
            raise UserError(f'{where}.{name}: expected a string, got null (quote it: "" for an empty value)')
        if isinstance(value, bool):
            result[str(name)] = "true" if value else "false"
        else:
            result[str(name)] = _string(value, f"{where}.{name}")
    return result


def _entry(index: int, raw: object, root: Path) -> WorkerSettings:
    where = f"workers[{index}]"
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping with at least `name` or `service`, got {_shown(raw)}")
    entry = {str(k): v for k, v in raw.items()}
    _check_keys(where, entry, _ENTRY_KEYS)
    return _worker(entry, root, {k.name: f"{where}.{k.name}" for k in WORKER_KEYS})


def _worker(entry: Mapping[str, object], root: Path, where: Mapping[str, str]) -> WorkerSettings:
    """One worker from its keys (a `workers:` entry, or `worker:` + `app:`), derived defaults filled in."""
    raw = {k.attr: _read(k, entry, where[k.name], root) for k in WORKER_KEYS if k.kind != PATH}
    configured = {k.attr: _read(k, entry, where[k.name], root) for k in WORKER_KEYS if k.kind == PATH}
    name = raw["name"] or raw["service"] or "worker"
    app_dir: Path = configured["app_dir"]
    dist_given = bool(str(entry.get("dist_main") or "").strip())  # its type was checked above
    sources_given = bool(str(entry.get("sources") or "").strip())
    return WorkerSettings(
        **{
            **raw,
            "name": name,
            "service": raw["service"] or name,
            "app_dir": app_dir,
            "dist_main": configured["dist_main"] if dist_given else app_dir / "dist" / "main.js",
            "app_sources": configured["app_sources"] if sources_given else app_dir / "src",
            "build_mode": raw["build_mode"] or ("host" if dist_given else "none"),
        }
    )


def display(path: Path, root: Path = PROJECT_ROOT) -> str:
    """A path as the user knows it: relative to the project root when inside it."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def settings(c: Context) -> Settings:
    """The settings of an Invoke context."""
    return Settings.from_config(c.config, environ=os.environ)
