"""What the stack is, as Compose resolves it, and what Docker says about its running containers.

`docker compose --profile '*' config --format json` is the one source of truth for services,
profiles, ports, restart policies, environments, healthchecks and build-vs-image (parsed in
`tasks.knowledge.stack_config`). It costs a Compose start (~60-100 ms here), so its output is cached
in the state folder with everything it depends on (checked on every call without parsing YAML):

- the Compose binary (the same stamps as the version cache, so `DOCKER_CONFIG` pointing at another
  plugin is a new key) and the command line (files, env file);
- the compose files, the env file, and files they pull in (`include:`, `extends.file`, `env_file:`):
  paths and modification times; and the files whose appearing or vanishing changes what Compose
  reads (the lookup's candidates, `compose.override.yaml` and kin, the `.env` files it could read);
- the values of the process variables that change Compose's answer: every variable the compose files
  and the env file interpolate (`$VAR`, `${VAR...}`), plus `COMPOSE_*` and `DOCKER_HOST`/
  `DOCKER_CONTEXT`. Not the whole environment: `PWD`, `OLDPWD`, `SHLVL`, terminal variables ... change
  between shells and would defeat the cache without changing the answer. Values are hashed, never
  stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..drivers import compose_binary
from ..drivers.gateway import Gateway
from ..knowledge.failures import UserError

if TYPE_CHECKING:
    from ..drivers.process import Completed
    from ..knowledge.compose_cli import ProjectFiles
    from ..knowledge.settings import Settings
    from ..knowledge.stack_config import ContainerFacts, StackConfig

_ALWAYS = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG")


class Compose(Protocol):
    """What this module needs of `tasks.drivers.compose.Compose` (which asks this module for the
    project name, so it is named by its shape here and not imported: no import cycle)."""

    settings: Settings
    project: ProjectFiles

    @property
    def version(self) -> tuple[int, ...]: ...

    @property
    def env_path(self) -> Path: ...

    @property
    def base(self) -> list[str]: ...

    def files(self) -> list[str]: ...

    def argv(
        self, *args: str, files: list[str] | None = None, profiles: list[str] | tuple[str, ...] = ()
    ) -> list[str]: ...

    def run(
        self,
        *args: str,
        capture: bool = False,
        files: list[str] | None = None,
        profiles: list[str] | tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
    ) -> Completed: ...

    def diagnose(self, result: Completed) -> str: ...


def _stamp(path: Path) -> list[object]:
    try:
        return [str(path), os.stat(path).st_mtime_ns]
    except OSError:
        return [str(path), None]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def compose_paths(compose: Compose) -> list[Path]:
    """The compose files in use, as absolute paths."""
    return [p if p.is_absolute() else compose.settings.root / p for p in map(Path, compose.files())]


def raw_files(compose: Compose) -> list[tuple[Path, dict[str, Any]]]:
    """The compose files as written (uninterpolated YAML): to find which variable sets what."""
    import yaml

    loaded = []
    for path in compose_paths(compose):
        try:
            data = yaml.safe_load(_read(path)) or {}
        except yaml.YAMLError:
            data = {}
        loaded.append((path, data if isinstance(data, dict) else {}))
    return loaded


def _pulled_in(path: Path, data: dict[str, Any]) -> list[Path]:
    """Files a compose file reads besides itself: include, extends.file, env_file."""
    found: list[str] = []
    for item in data.get("include") or []:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            paths = item.get("path")
            found += [paths] if isinstance(paths, str) else [p for p in paths or [] if isinstance(p, str)]
    for service in (data.get("services") or {}).values():
        if not isinstance(service, dict):
            continue
        extends = service.get("extends")
        if isinstance(extends, dict) and isinstance(extends.get("file"), str):
            found.append(extends["file"])
        env_files = service.get("env_file")
        for entry in [env_files] if isinstance(env_files, (str, dict)) else env_files or []:
            value = entry.get("path") if isinstance(entry, dict) else entry
            if isinstance(value, str):
                found.append(value)
    return [p if p.is_absolute() else path.parent / p for p in map(Path, found)]


def dependencies(compose: Compose) -> tuple[list[Path], list[str]]:
    """The files Compose's answer depends on and the variables they interpolate (parses the YAML)."""
    files = raw_files(compose)
    paths = [path for path, _ in files]
    for path, data in files:
        paths += _pulled_in(path, data)
    # The .env in use, and every file whose appearing or vanishing changes what Compose reads (its
    # lookup's candidates, override files, the .env files it could read).
    paths += [compose.env_path, *compose.project.watched]
    paths = list(dict.fromkeys(paths))
    from ..knowledge.stack_config import referenced_variables

    names = set().union(*(referenced_variables(_read(path)) for path in paths))
    return paths, sorted(names)


def _context(compose: Compose) -> list[object]:
    """What the answer depends on besides files and variables: the command line and the binary."""
    return [compose.argv("config"), compose_binary.cache_key([compose.base]), list(compose.version)]


def _environment_hash(names: list[str]) -> str:
    wanted = set(names) | {name for name in os.environ if name.startswith("COMPOSE_")} | set(_ALWAYS)
    values = json.dumps(sorted((name, os.environ.get(name)) for name in wanted))
    return hashlib.sha256(values.encode()).hexdigest()


def _still_valid(compose: Compose, cached: dict[str, Any]) -> bool:
    """Checked on every call, without parsing YAML: the stored file stamps, the command line and
    binary, and the values of the stored variable names."""
    files = cached.get("files")
    names = cached.get("variables")
    if not isinstance(files, list) or not isinstance(names, list):
        return False
    return (
        cached.get("context") == json.loads(json.dumps(_context(compose)))
        and all(isinstance(f, list) and _stamp(Path(str(f[0]))) == f for f in files)
        and cached.get("environment") == _environment_hash([str(n) for n in names])
    )


def cache_path(compose: Compose) -> Path:
    return compose.settings.state_dir / "compose-config.json"


def config_json(compose: Compose) -> dict[str, Any]:
    """Compose's resolved configuration with every profile enabled, from the cache when still valid.

    The cache stores what its answer depended on (files with their stamps, the variable names the
    files interpolate), so a hit costs a few `stat` calls and a hash; only a miss parses the YAML.
    """
    return dict(_record(compose)["config"])


def _inputs_digest(record: dict[str, Any]) -> str:
    """What a cached answer of Compose depended on (files, variables, command line, binary), hashed."""
    inputs = [record.get(key) for key in ("files", "variables", "context", "environment")]
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def config_hashes(
    compose: Compose,
    services: list[str],
    profiles: list[str],
    extra_env: dict[str, str],
    files: list[str] | None = None,
) -> dict[str, str]:
    """Compose's own `config --hash` of these services (`service -> hash`; {} when Compose fails),
    cached beside the configuration and valid while it is: the same files, variables and binary.

    The hash is what `up` compares with a container's `com.docker.compose.config-hash` label; it is
    asked of Compose, never computed here. ``files``: other compose files than the project's (the
    prod-like override on top): asked every time, since the cache watches only the project's files.
    """
    from ..knowledge.up_noop import parse_hashes

    if files is not None:
        result = compose.run(
            "config", "--hash", ",".join(services), capture=True, files=files, profiles=profiles, extra_env=extra_env
        )
        return parse_hashes(result.stdout) if result.ok else {}
    digest = _inputs_digest(_record(compose))
    key = hashlib.sha256(json.dumps([services, profiles, sorted(extra_env.items())]).encode()).hexdigest()
    path = compose.settings.state_dir / "compose-hashes.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = None
    answers = cached.get("answers") if isinstance(cached, dict) and cached.get("inputs") == digest else None
    answers = answers if isinstance(answers, dict) else {}
    found = answers.get(key)
    if isinstance(found, dict) and found:
        return {str(k): str(v) for k, v in found.items()}
    result = compose.run("config", "--hash", ",".join(services), capture=True, profiles=profiles, extra_env=extra_env)
    hashes = parse_hashes(result.stdout) if result.ok else {}
    if hashes and set(hashes) == set(services):
        kept = dict(list(answers.items())[-7:])  # a few recent builds' answers, not every one ever
        _write_private(path, {"inputs": digest, "answers": {**kept, key: hashes}})
    return hashes


def _write_private(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    except OSError:
        pass  # a read-only checkout still works, only slower


def _record(compose: Compose) -> dict[str, Any]:
    """The cached record (config and what it depended on), refreshed from Compose when stale."""
    path = cache_path(compose)
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(cached, dict) and isinstance(cached.get("config"), dict) and _still_valid(compose, cached):
            return cached
    except (OSError, ValueError):
        pass
    paths, names = dependencies(compose)
    record = {
        "files": [_stamp(p) for p in paths],
        "variables": names,
        "context": _context(compose),
        "environment": _environment_hash(names),
    }
    result = compose.run("config", "--format", "json", capture=True, profiles=["*"])
    if not result.ok:
        raise UserError(f"reading the compose files (`docker compose config`) failed: {compose.diagnose(result)}")
    try:
        data = json.loads(result.stdout)
    except ValueError as error:
        raise UserError(f"`docker compose config --format json` printed something that is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise UserError("`docker compose config --format json` printed something that is not a JSON object")
    # The resolved config holds the env file's secrets: readable by the owner only.
    _write_private(path, {**record, "config": data})
    return {**record, "config": data}


def project_name(compose: Compose) -> str:
    """The project name Compose resolved (`-p` is never passed): `name` of the cached config."""
    name = config_json(compose).get("name")
    if not isinstance(name, str) or not name:
        raise UserError("`docker compose config --format json` printed no project name (`name`)")
    return name


def load(compose: Compose) -> StackConfig:
    from ..knowledge.stack_config import parse_config

    return parse_config(config_json(compose))


def container_name(compose: Compose, service: str) -> str:
    """The name Compose gives the service's (first) container: `container_name`, else
    `<project>-<service>-1` ("" when the configuration cannot be read)."""
    try:
        raw = (config_json(compose).get("services") or {}).get(service) or {}
        project = project_name(compose)
    except UserError:
        return ""
    named = raw.get("container_name") if isinstance(raw, dict) else None
    return str(named) if named else f"{project}-{service}-1"


_INSPECT = (
    '{"name":{{json .Name}},"restart":{{json .HostConfig.RestartPolicy.Name}},"env":{{json .Config.Env}},'
    '"networks":{{json .NetworkSettings.Networks}}}'
)


def inspect_containers(gateway: Gateway, containers: list[str]) -> dict[str, ContainerFacts]:
    """What Docker applies to these containers: restart policy (`HostConfig.RestartPolicy.Name`),
    environment (`Config.Env`) and network addresses, in one `docker inspect` call. Containers it
    cannot see are left out."""
    return ask_inspect(gateway, containers)()


def ask_inspect(gateway: Gateway, containers: list[str]) -> Callable[[], dict[str, ContainerFacts]]:
    """`inspect_containers` asked now and answered later: `docker inspect` runs while the caller goes on."""
    if not containers:
        return dict
    started = gateway.start(["docker", "inspect", "--type", "container", "--format", _INSPECT, *containers])

    def answer() -> dict[str, ContainerFacts]:
        from ..knowledge.stack_config import parse_inspect

        return parse_inspect(started.result().stdout)

    return answer
