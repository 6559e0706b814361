"""The stack as Compose resolves it: typed facts from `docker compose config --format json` (pure).

One source of truth for services, profiles, published ports, restart policies, environments,
healthchecks and build-vs-image, whatever the compose files are called or labelled. The JSON is
Compose's own merge and interpolation of every file, the env file and the shell, so nothing here
re-reads `.env` or guesses names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Port:
    """One `ports:` entry: the container's port and where the host publishes it."""

    target: int
    published: int | None  # None: not published, or a random host port chosen at `up`
    host_ip: str  # "" = every interface
    protocol: str = "tcp"

    @property
    def connect_host(self) -> str:
        """The address a host process dials for this port: the bound IP, loopback for "all"."""
        if self.host_ip in ("", "0.0.0.0"):
            return "127.0.0.1"
        if self.host_ip == "::":
            return "::1"
        return self.host_ip


#: Image names and programs of Redis and the servers that speak its protocol.
_REDIS_NAMES = ("redis", "valkey", "keydb", "dragonfly")


@dataclass(frozen=True)
class Service:
    name: str
    profiles: tuple[str, ...] = ()
    image: str = ""
    build: bool = False  # built from a `build:` section (else pulled)
    restart: str = "no"  # Compose's default
    environment: dict[str, str] = field(default_factory=dict)
    healthcheck: bool = False
    ports: tuple[Port, ...] = ()
    replicas: int = 1
    depends_on: tuple[str, ...] = ()
    expose: tuple[int, ...] = ()  # `expose:` container ports (reachable by other services only)
    command: tuple[str, ...] = ()  # `command:` as Compose resolved it (empty: the image's CMD)
    #: `volumes:` as (type, source, target): "bind" or "volume" (source "" for an anonymous one), ...
    mounts: tuple[tuple[str, str, str], ...] = ()

    @property
    def runs_redis(self) -> bool:
        """A Redis (or a fork that speaks its protocol), by its image's name or its command: what
        the queue lives in, so the one connection the dev worker cannot do without."""
        name = self.image.rsplit("/", 1)[-1].split(":")[0].split("@")[0].lower()
        if any(word in name for word in _REDIS_NAMES):
            return True
        program = self.command[0].rsplit("/", 1)[-1].lower() if self.command else ""
        return any(program.startswith(word) for word in _REDIS_NAMES)

    def port(self, target: int, protocol: str = "tcp") -> Port | None:
        """The entry publishing this container port (a published one first)."""
        entries = [p for p in self.ports if p.target == target and p.protocol == protocol]
        entries.sort(key=lambda p: p.published is None)
        return entries[0] if entries else None


@dataclass(frozen=True)
class StackConfig:
    name: str
    services: dict[str, Service]

    def service(self, name: str) -> Service | None:
        return self.services.get(name)

    def with_dependencies(self, names: list[str] | tuple[str, ...]) -> list[str]:
        """The services named and everything they depend on, dependencies first."""
        order: list[str] = []

        def visit(name: str, seen: tuple[str, ...]) -> None:
            service = self.services.get(name)
            if service is None or name in order or name in seen:
                return
            for dependency in service.depends_on:
                visit(dependency, (*seen, name))
            order.append(name)

        for name in names:
            visit(name, ())
        return order

    def enabled(self, profiles: list[str] | tuple[str, ...]) -> list[str]:
        """Services a plain `up` starts with these profiles active: no profile, or an active one."""
        active = set(profiles)
        return [
            name
            for name, s in self.services.items()
            if not s.profiles or "*" in active or active.intersection(s.profiles)
        ]


def unescape(value: str) -> str:
    """`config --format json` prints a literal `$` as `$$` (re-usable as Compose input); undo that."""
    return value.replace("$$", "$")


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _ports(raw: object) -> tuple[Port, ...]:
    ports = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        target = _int(entry.get("target"))
        if target is None:
            continue
        ports.append(
            Port(
                target=target,
                # "5432", 5432, or a range "8000-8001" (only its first port is dialled)
                published=_int(str(entry.get("published") or "").split("-")[0]),
                host_ip=str(entry.get("host_ip") or ""),
                protocol=str(entry.get("protocol") or "tcp"),
            )
        )
    return tuple(ports)


def _environment(raw: object) -> dict[str, str]:
    """A mapping (v2 output) or a list of KEY=VALUE (older shapes); unset variables (null) dropped."""
    if isinstance(raw, dict):
        return {str(k): unescape(str(v)) for k, v in raw.items() if v is not None}
    env = {}
    for item in raw if isinstance(raw, list) else []:
        key, sep, value = str(item).partition("=")
        if sep:
            env[key] = unescape(value)
    return env


def _healthcheck(raw: object) -> bool:
    if not isinstance(raw, dict):
        return False
    test = raw.get("test")
    return not raw.get("disable") and bool(test) and test != ["NONE"]


def _restart(service: dict[str, Any]) -> str:
    if service.get("restart"):
        return str(service["restart"])
    policy = (service.get("deploy") or {}).get("restart_policy") or {}
    condition = policy.get("condition")
    # deploy.restart_policy's conditions, in `restart:` terms (as Compose applies them)
    return {"any": "always", "on-failure": "on-failure", "none": "no"}.get(str(condition), "no")


def _depends_on(raw: object) -> tuple[str, ...]:
    if isinstance(raw, dict):
        return tuple(str(k) for k in raw)
    if isinstance(raw, list):
        return tuple(str(k) for k in raw)
    return ()


def _expose(raw: object) -> tuple[int, ...]:
    """`expose: ["9000", "8000-8001/tcp"]`: the first port of each entry."""
    found = (
        (_int(str(item).split("/")[0].split("-")[0]) for item in raw if item is not None)
        if isinstance(raw, list)
        else ()
    )
    return tuple(port for port in found if port is not None)


def _command(raw: object) -> tuple[str, ...]:
    """`command:` is a list in `config --format json`; a string (older shapes) is split on blanks."""
    if isinstance(raw, list):
        return tuple(unescape(str(word)) for word in raw)
    return tuple(unescape(str(raw)).split()) if isinstance(raw, str) else ()


def parse_config(data: dict[str, Any]) -> StackConfig:
    """`docker compose --profile '*' config --format json`, as typed facts."""
    services = {}
    for name, entry in (data.get("services") or {}).items():
        raw = entry or {}
        replicas = _int((raw.get("deploy") or {}).get("replicas"))
        if replicas is None:
            replicas = _int(raw.get("scale"))
        services[name] = Service(
            name=name,
            profiles=tuple(raw.get("profiles") or ()),
            image=str(raw.get("image") or ""),
            build=bool(raw.get("build")),
            restart=_restart(raw),
            environment=_environment(raw.get("environment")),
            healthcheck=_healthcheck(raw.get("healthcheck")),
            ports=_ports(raw.get("ports")),
            replicas=1 if replicas is None else replicas,
            depends_on=_depends_on(raw.get("depends_on")),
            expose=_expose(raw.get("expose")),
            command=_command(raw.get("command")),
            mounts=_mounts(raw.get("volumes")),
        )
    return StackConfig(name=str(data.get("name") or ""), services=services)


def _mounts(raw: object) -> tuple[tuple[str, str, str], ...]:
    """`volumes:` of a service in Compose's long form (what `config --format json` prints)."""
    found = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and entry.get("target"):
            found.append((str(entry.get("type") or "volume"), str(entry.get("source") or ""), str(entry["target"])))
    return tuple(found)


_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def referenced_variables(text: str) -> set[str]:
    """Variables a compose or env file interpolates (`$VAR`, `${VAR}`, `${VAR:-x}`; `$$` is literal)."""
    return set(_REFERENCE.findall(text.replace("$$", "")))


def port_variable(raw_ports: object, target: int) -> str | None:
    """The variable that sets the published side of `target` in a raw (uninterpolated) `ports:` list.

    `"127.0.0.1:${REDIS_HOST_PORT:-6379}:6379"` or `{target: 6379, published: "${REDIS_HOST_PORT}"}`
    give REDIS_HOST_PORT.
    """
    for entry in raw_ports if isinstance(raw_ports, list) else []:
        if isinstance(entry, dict):
            if _int(entry.get("target")) != target:
                continue
            text = str(entry.get("published") or "")
        else:
            text = str(entry)
            container_side = text.rsplit(":", 1)[-1].split("/")[0]
            if ":" not in text or _int(container_side) != target:
                continue
            text = text.rsplit(":", 1)[0]
        found = _REFERENCE.findall(text)
        if found:
            return str(found[-1])
    return None


@dataclass(frozen=True)
class ContainerFacts:
    """What `docker inspect` says a container was created with."""

    restart: str
    environment: dict[str, str]
    addresses: tuple[str, ...] = ()  # its IP addresses on its networks (who a Redis client is)


def parse_inspect(output: str) -> dict[str, ContainerFacts]:
    """Lines of `{"name": ..., "restart": ..., "env": [...], "networks": {...}}` (the driver's format)."""
    facts = {}
    for line in output.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict) or not row.get("name"):
            continue
        env = {}
        for item in row.get("env") or []:
            key, _, value = str(item).partition("=")
            env[key] = value
        networks = row.get("networks")
        networks = networks if isinstance(networks, dict) else {}
        addresses = tuple(
            str(n[key])
            for n in networks.values()
            if isinstance(n, dict)
            for key in ("IPAddress", "GlobalIPv6Address")
            if n.get(key)
        )
        facts[str(row["name"]).lstrip("/")] = ContainerFacts(str(row.get("restart") or "no"), env, addresses)
    return facts


_DOCKER_PS_PORT = re.compile(r":(\d+)(?:-(\d+))?->")


def published_ports(ports_column: str) -> set[int]:
    """Host ports in `docker ps`'s Ports column: `127.0.0.1:5432->5432/tcp, :::80-81->80-81/tcp, 6379/tcp`."""
    found: set[int] = set()
    for match in _DOCKER_PS_PORT.finditer(ports_column):
        first = int(match.group(1))
        last = int(match.group(2) or first)
        found.update(range(first, last + 1))
    return found


@dataclass(frozen=True)
class UpOutcome:
    """The project's containers after a failed `up --wait`, sorted out (see `after_up`)."""

    finished: tuple[str, ...]  # one-shot services whose containers all exited 0 (restart "no")
    failing: tuple[tuple[str, str], ...]  # (service, why) of containers that crashed or are not up
    waiting: tuple[str, ...]  # long-running services to wait for again


def after_up(stack: StackConfig, services: list[str], containers: list[Any]) -> UpOutcome:
    """Tell a finished one-shot service (a migrations job: exited 0, restart policy "no") from a
    crashed or unhealthy one. `up --wait` fails on both (Compose 5.6.1: `container ...-migrations-1
    exited (0)`), and stops waiting for the others when it does.

    `containers` are `compose_cli.ContainerState`s of the project (any object with `service`,
    `state`, `health` and `exit_code`).
    """
    by_service: dict[str, list[Any]] = {}
    for container in containers:
        by_service.setdefault(container.service, []).append(container)
    finished, failing, waiting = [], [], []
    for name in services:
        service = stack.service(name)
        mine = by_service.get(name, [])
        if service is None or not mine:
            continue
        exited = [c for c in mine if c.state in ("exited", "dead")]
        if exited and len(exited) == len(mine) and all(c.exit_code == 0 for c in exited) and service.restart == "no":
            finished.append(name)
            continue
        waiting.append(name)
        for c in mine:
            if c.state in ("exited", "dead"):
                code = "" if c.exit_code is None else f" with code {c.exit_code}"
                failing.append((name, f"exited{code}"))
            elif c.state == "restarting":
                failing.append((name, "keeps restarting"))
            elif c.health == "unhealthy":
                failing.append((name, "unhealthy"))
            elif c.state == "created":
                failing.append((name, "created but not started"))
    return UpOutcome(tuple(finished), tuple(failing), tuple(waiting))
