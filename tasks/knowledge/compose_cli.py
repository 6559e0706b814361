"""Pure Compose knowledge: command lines, versions, `ps` output, files and profiles.

Nothing here runs a process, so all of it is unit-tested without Docker.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Oldest Compose the tasks support: `ps --format json`, `--profile '*'`, `up --wait` and service
#: names enabling their profile all work from here on.
MIN_VERSION = (2, 20, 0)

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``5.6.1``, ``v2.20.3``, ``Docker Compose version v2.27.0-desktop.1``, ``1.29.2, build ...``."""
    match = _VERSION.search(text or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def format_version(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def compose_argv(
    base: list[str],
    args: list[str] | tuple[str, ...],
    *,
    files: list[str] | tuple[str, ...] = (),
    profiles: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """``docker compose [-f F]... [--profile P]... ARGS`` as an argument list (never a shell string)."""
    argv = list(base)
    for path in files:
        argv += ["-f", str(path)]
    for profile in profiles:
        if profile:  # an empty worker.profile: the worker has no profile
            argv += ["--profile", profile]
    return argv + list(args)


def split_list(value: str | None, separator: str) -> list[str]:
    return [item.strip() for item in (value or "").split(separator) if item.strip()]


def active_profiles(env: dict[str, str], extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Profiles to pass with ``--profile`` so that adding ``extra`` keeps COMPOSE_PROFILES in force.

    Compose ignores COMPOSE_PROFILES as soon as one ``--profile`` is given, so the ones the user set
    there are passed along explicitly.
    """
    profiles = split_list(env.get("COMPOSE_PROFILES"), ",")
    for profile in extra:
        if profile and profile not in profiles:
            profiles.append(profile)
    return profiles


def compose_files(
    env: dict[str, str], configured: str, default: str = "docker-compose.yml", pathsep: str = os.pathsep
) -> list[str]:
    """The compose files Compose would read: configured, else COMPOSE_FILE, else the default.

    Needed whenever an override file is added with ``-f``: Compose then ignores COMPOSE_FILE.
    ``pathsep`` is the platform's (``;`` on Windows, ``:`` elsewhere), as Compose's own default.
    """
    separator = env.get("COMPOSE_PATH_SEPARATOR") or pathsep
    return split_list(configured, pathsep) or split_list(env.get("COMPOSE_FILE"), separator) or [default]


@dataclass(frozen=True)
class Published:
    """One `Publishers` entry of `ps --format json` (null in 2.26.1 for a container without ports)."""

    host_ip: str
    target: int
    published: int  # 0 = exposed, not published
    protocol: str = "tcp"


@dataclass(frozen=True)
class ContainerState:
    """One container as ``docker compose ps -a --format json`` describes it."""

    name: str
    service: str
    state: str  # running, exited, created, restarting, paused, dead
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    status: str  # e.g. "Up 5 minutes (healthy)", "Exited (0) 3 seconds ago"
    exit_code: int | None
    labels: dict[str, str]
    publishers: tuple[Published, ...] = ()
    ports: str = ""  # `docker ps`'s Ports column ("127.0.0.1:5432->5432/tcp, ..."); empty from `compose ps`

    @property
    def running(self) -> bool:
        return self.state == "running"


def parse_labels(value: object) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    labels = {}
    for item in str(value or "").split(","):
        key, sep, val = item.partition("=")
        if sep:
            labels[key.strip()] = val
    return labels


def parse_ps(output: str) -> list[ContainerState]:
    """Both shapes: one JSON array (Compose < 2.21) or one JSON object per line (>= 2.21)."""
    text = output.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
        rows = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    states = []
    for row in rows:
        exit_code = row.get("ExitCode")
        states.append(
            ContainerState(
                name=row.get("Name", ""),
                service=row.get("Service", ""),
                state=(row.get("State") or "").lower(),
                health=(row.get("Health") or "").lower(),
                status=row.get("Status", ""),
                exit_code=int(exit_code)
                if isinstance(exit_code, (int, str)) and str(exit_code).lstrip("-").isdigit()
                else None,
                labels=parse_labels(row.get("Labels")),
                publishers=parse_publishers(row.get("Publishers")),
            )
        )
    return states


_STATUS_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_STATUS_EXIT = re.compile(r"^Exited \((-?\d+)\)")


#: One published range of `docker ps`'s Ports column: `127.0.0.1:49153->6379/tcp`, `[::]:80-81->80-81/tcp`.
_PS_PUBLISHED = re.compile(r"(?:^|,\s*)(\[?[0-9a-fA-F.:]*?\]?):(\d+)(?:-(\d+))?->(\d+)(?:-(\d+))?/(\w+)")


def ports_column_publishers(column: str) -> tuple[Published, ...]:
    """`docker ps`'s Ports column as Compose's `Publishers` (published ones only; a range is one entry
    per port): `127.0.0.1:49153->6379/tcp, :::49153->6379/tcp` -> (127.0.0.1, 6379, 49153), (::, ...)."""
    found: list[Published] = []
    for match in _PS_PUBLISHED.finditer(column):
        host_ip = match.group(1).strip("[]")
        first, last = int(match.group(2)), int(match.group(3) or match.group(2))
        target = int(match.group(4))
        for offset in range(last - first + 1):
            found.append(Published(host_ip, target + offset, first + offset, match.group(6)))
    return tuple(found)


def parse_docker_ps(output: str) -> list[ContainerState]:
    """`docker ps -a --format '{{json .}}'` rows of a project's containers, as ContainerStates.

    The plain Docker CLI answers in ~15 ms where `docker compose ps` takes ~70 ms (the Compose plugin
    loads the project first); Compose's own labels on each container name its project and service.
    """
    states = []
    for line in output.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        labels = parse_labels(row.get("Labels"))
        status = str(row.get("Status") or "")
        health = _STATUS_HEALTH.search(status)
        exit_code = _STATUS_EXIT.match(status)
        states.append(
            ContainerState(
                name=str(row.get("Names") or "").split(",")[0],
                service=labels.get("com.docker.compose.service", ""),
                state=str(row.get("State") or "").lower(),
                health=health.group(1).replace("health: ", "") if health else "",
                status=status,
                exit_code=int(exit_code.group(1)) if exit_code else (0 if row.get("State") == "running" else None),
                labels=labels,
                publishers=ports_column_publishers(str(row.get("Ports") or "")),
                ports=str(row.get("Ports") or ""),
            )
        )
    return states


def parse_publishers(value: object) -> tuple[Published, ...]:
    entries = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            target, published = int(item.get("TargetPort") or 0), int(item.get("PublishedPort") or 0)
        except (TypeError, ValueError):
            continue
        entries.append(Published(str(item.get("URL") or ""), target, published, str(item.get("Protocol") or "tcp")))
    return tuple(entries)


_PROJECT_NAME_CHARS = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """Compose's rule: lower case, only ``a-z0-9_-``, must start with a letter or digit."""
    return _PROJECT_NAME_CHARS.sub("", name.lower()).lstrip("_-")


#: Compose's own file names, in the order it looks for them, each with the override file it adds.
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = {
    "compose.yaml": "compose.override.yaml",
    "compose.yml": "compose.override.yml",
    "docker-compose.yaml": "docker-compose.override.yaml",
    "docker-compose.yml": "docker-compose.override.yml",
}


@dataclass(frozen=True)
class ProjectFiles:
    """What Compose reads for a project, as Compose decides it (see `resolve_project_files`).

    ``files`` are the compose files in order (overrides included); ``explicit`` tells whether they
    reach Compose with ``-f`` (configured) or Compose finds them itself (COMPOSE_FILE, its lookup);
    ``env_file`` is the .env Compose interpolates with (it may not exist); ``env_explicit`` means it
    is passed with ``--env-file``; ``watched`` are paths whose appearing or vanishing changes the
    answer (lookup candidates, override files, .env files).
    """

    files: tuple[Path, ...]
    project_dir: Path
    env_file: Path
    explicit: bool
    env_explicit: bool
    via: str  # "configured", "COMPOSE_FILE", "lookup", "none"
    watched: tuple[Path, ...] = ()


def _lookup(start: Path, exists: Callable[[Path], bool]) -> tuple[list[Path], list[Path]]:
    """Compose's lookup from ``start`` up to the filesystem root: (files found, paths looked at)."""
    looked: list[Path] = []
    folder = start
    while True:
        for name in COMPOSE_FILE_NAMES:
            candidate = folder / name
            looked.append(candidate)
            if exists(candidate):
                override = folder / OVERRIDE_NAMES[name]
                looked.append(override)
                return [candidate, *([override] if exists(override) else [])], looked
        if folder.parent == folder:
            return [], looked
        folder = folder.parent


def resolve_project_files(
    root: Path,
    configured: str | Sequence[str],
    environ: dict[str, str],
    root_dotenv: dict[str, str],
    *,
    env_file: Path | None = None,
    exists: Callable[[Path], bool] = Path.is_file,
    pathsep: str = os.pathsep,
) -> ProjectFiles:
    """The compose files, project directory and .env Compose uses when run in ``root`` (checked here
    against Compose 5.6.1):

    - configured files (passed with ``-f``): the project directory is the first file's folder, and
      the .env read is the one there;
    - else COMPOSE_FILE (the environment, then ``root``'s .env), split on COMPOSE_PATH_SEPARATOR:
      Compose read ``root``'s .env before it knew the files, so that one stays in use when it
      exists (Compose 2.40, 5.x; 2.26 reads the first file's folder's), else the first file's
      folder's;
    - else the first of compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml in ``root``
      then its parents, plus its override file beside it; the .env is the one in that folder.

    ``env_file`` (configured explicitly) is passed with ``--env-file`` and wins.
    """
    root_env = root / ".env"
    watched: list[Path] = [root_env]

    def absolute(item: str) -> Path:
        path = Path(item)
        return path if path.is_absolute() else root / path

    listed = split_list(configured, pathsep) if isinstance(configured, str) else [c for c in configured if c]
    if listed:
        files, via = [absolute(item) for item in listed], "configured"
        dotenv_dir = files[0].parent
    else:
        value = environ.get("COMPOSE_FILE") or root_dotenv.get("COMPOSE_FILE") or ""
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or root_dotenv.get("COMPOSE_PATH_SEPARATOR") or pathsep
        from_variable = split_list(value, separator)
        if from_variable:
            files, via = [absolute(item) for item in from_variable], "COMPOSE_FILE"
            # Compose >= 2.40 reads the working folder's .env when there is one (it was read before
            # COMPOSE_FILE was known), else the first file's folder's; 2.26 always the latter.
            dotenv_dir = root if exists(root_env) else files[0].parent
        else:
            files, looked = _lookup(root, exists)
            watched += looked
            via = "lookup" if files else "none"
            dotenv_dir = files[0].parent if files else root
    project_dir = files[0].parent if files else root
    default_env = dotenv_dir / ".env"
    watched.append(default_env)
    chosen = env_file if env_file is not None else default_env
    return ProjectFiles(
        files=tuple(files),
        project_dir=project_dir,
        env_file=chosen,
        explicit=via == "configured",
        env_explicit=env_file is not None,
        via=via,
        watched=tuple(dict.fromkeys([*watched, chosen])),
    )
