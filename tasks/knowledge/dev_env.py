"""The dev worker's environment on the host, from the worker service's environment (pure).

Inside Compose the worker reaches its services by name (`REDIS_HOST=redis`, `DATABASE_URL=
postgres://u:p@postgres:5432/db`). On the host the dev worker gets the same environment, as
Compose resolved it, with the host side of every such connection swapped in: the address where
that service's port is published. Which variables carry addresses is found by their values (a
service name, `service:port`, a URL whose host is a service); the configured lists
(`dev.host_port_vars`, `dev.url_vars`) only add, and their `!NAME` entries exclude. The shell's own
variables win over everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ..knowledge.stack_config import Port, Service, StackConfig

#: Ports of well-known URL schemes, for a URL that names none.
SCHEME_PORTS = {
    "postgres": 5432,
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "mysql": 3306,
    "mariadb": 3306,
    "mongodb": 27017,
    "amqp": 5672,
    "amqps": 5671,
    "nats": 4222,
    "http": 80,
    "https": 443,
}

#: (service, container port) -> (host, port) of a running container, for ports published without a
#: fixed host port (Compose picks one at `up`).
RuntimePorts = dict[tuple[str, int], tuple[str, int]]


@dataclass(frozen=True)
class Endpoint:
    """An address the dev worker will dial, and where it came from."""

    via: str  # "REDIS_HOST/REDIS_PORT" or "DATABASE_URL"
    host: str
    port: int
    service: str = ""  # the compose service behind it ("" when the shell named another address)
    target: int = 0  # that service's container port


@dataclass
class DevEnv:
    env: dict[str, str]
    endpoints: list[Endpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the dev worker gets unlike the container, said once


@dataclass(frozen=True)
class Connection:
    """A variable of the worker service's environment that reaches another service, and what the
    dev worker on the host gets instead (`set`: variable -> value; empty when it cannot be resolved)."""

    var: str
    value: str  # as Compose resolved it
    service: str
    target: int  # the service's container port (0: unknown)
    how: str  # "host" (a service name), "host:port", "url"
    port_var: str = ""  # the sibling port variable (QUEUE_HOST + QUEUE_PORT)
    set: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """`QUEUE_HOST=redis -> QUEUE_HOST=127.0.0.1 QUEUE_PORT=16379 (service 'redis', port 6379)`."""
        shown = " ".join(f"{k}={v}" for k, v in self.set) or "unresolved"
        return f"{self.var}={self.value} -> {shown} (service {self.service!r}, port {self.target or '?'})"


def _items(value: str | Sequence[str]) -> list[str]:
    texts = [value] if isinstance(value, str) else list(value)
    return [item.strip() for text in texts for item in text.replace(";", ",").split(",") if item.strip()]


def parse_pairs(text: str | Sequence[str]) -> list[tuple[str, str]]:
    """`"REDIS_HOST:REDIS_PORT, PGHOST:PGPORT"` -> [("REDIS_HOST", "REDIS_PORT"), ("PGHOST", "PGPORT")].
    Entries written `!NAME` are exclusions (see `parse_exclusions`) and left out here."""
    pairs = []
    for item in _items(text):
        host, _, port = item.partition(":")
        if host.strip() and not host.startswith("!"):
            pairs.append((host.strip(), port.strip()))
    return pairs


def parse_names(text: str | Sequence[str]) -> list[str]:
    return [item for item in _items(text) if not item.startswith("!")]


def parse_exclusions(*texts: str | Sequence[str]) -> list[str]:
    """`!NAME` entries of the configured lists: variables never treated as connections."""
    return [item[1:].split(":")[0].strip() for text in texts for item in _items(text) if item.startswith("!")]


def publish_hint(service: str, target: int) -> str:
    """How to give the dev worker a host port for it, without editing the user's compose files."""
    return (
        f"run `inv adopt`: the collection's compose.devstack.yaml publishes {service}:{target} on 127.0.0.1 on a "
        "port Compose picks (your compose files stay as they are)"
    )


def _host_side(
    service: Service, target: int, runtime: RuntimePorts, via: str, problems: list[str]
) -> tuple[str, int] | None:
    port: Port | None = service.port(target)
    if port is not None and port.published is not None:
        return port.connect_host, port.published
    if port is not None and (service.name, target) in runtime:
        return runtime[(service.name, target)]
    if port is not None:
        problems.append(
            f"service {service.name!r} publishes {target} on a host port Compose picks at `up`, and no running "
            f"container of it publishes it (the dev worker reaches it through {via}): it is not started, or was "
            f"started before the port was added: `docker compose up -d {service.name}` (re)creates it"
        )
        return None
    problems.append(
        f"service {service.name!r} publishes no port for {target}, which the dev worker reaches through "
        f"{via}: {publish_hint(service.name, target)}"
    )
    return None


def _single_port(service: Service) -> int | None:
    """The service's one container port (`ports:` and `expose:`), None when it has none or several."""
    targets = {p.target for p in service.ports} | set(service.expose)
    return next(iter(targets)) if len(targets) == 1 else None


def _url_port(scheme: str, explicit: int | None, service: Service | None) -> int | None:
    if explicit is not None:
        return explicit
    if scheme.lower() in SCHEME_PORTS:
        return SCHEME_PORTS[scheme.lower()]
    if service is not None:
        return _single_port(service)
    return None


def netloc(userinfo: str, host: str, port: int) -> str:
    """`user:pw@` + host (IPv6 in brackets) + `:port`: the network location of a URL or a `host:port` value."""
    host = f"[{host}]" if ":" in host else host
    return f"{userinfo}{host}:{port}"


_HOST_SUFFIXES = ("_HOSTNAME", "_HOST", "_ADDR", "_ADDRESS", "_SERVER")


def sibling_port_var(var: str) -> str:
    """QUEUE_HOST -> QUEUE_PORT, REDIS_HOSTNAME -> REDIS_PORT, CACHE -> CACHE_PORT."""
    for suffix in _HOST_SUFFIXES:
        if var.endswith(suffix) and len(var) > len(suffix):
            return var[: -len(suffix)] + "_PORT"
    return f"{var}_PORT"


def _looks_like(value: str, stack: StackConfig, skip: set[str]) -> tuple[str, str, int | None] | None:
    """(how, service, explicit port) when a value names a service: `redis`, `redis:6379`, a URL."""
    value = value.strip()
    if "://" in value:
        parts = urlsplit(value)
        host = parts.hostname or ""
        if host in stack.services and host not in skip:
            return "url", host, _port_of(parts)
        return None
    if value in stack.services and value not in skip:
        return "host", value, None
    host, sep, port = value.rpartition(":")
    if sep and host in stack.services and host not in skip and port.isdigit():
        return "host:port", host, int(port)
    return None


def find_connections(
    stack: StackConfig,
    worker_service: str,
    base: dict[str, str],
    *,
    host_port_vars: Sequence[tuple[str, str]] = (),
    url_vars: Sequence[str] = (),
    exclude: Sequence[str] = (),
    runtime: RuntimePorts | None = None,
) -> tuple[list[Connection], list[str]]:
    """Every variable of the worker service's resolved environment (`base`) that reaches another
    service, by its value: a service name, `service:port`, or a URL whose host is a service. The
    configured pairs name a port variable that does not follow `X_HOST`/`X_PORT`; `url_vars` are read
    as URLs whatever they hold; `exclude` are never touched. Returns the connections and the
    problems (one line each: the variable, the service, the line to add)."""
    runtime = runtime or {}
    skip = {worker_service}
    excluded = set(exclude)
    pairs = {host: port for host, port in host_port_vars if host not in excluded}
    ports_taken = {port for port in pairs.values() if port}
    connections: list[Connection] = []
    problems: list[str] = []
    configured = [*pairs, *url_vars]
    order = {var: index for index, var in enumerate(dict.fromkeys(configured))}
    for var in sorted(base, key=lambda v: (order.get(v, len(order)), v)):
        if var in excluded or var in ports_taken:
            continue
        # The worker's own name in its environment is no connection, unless configured as one.
        found = _looks_like(base[var], stack, set() if var in order else skip)
        if found is None:
            continue
        how, name, explicit = found
        service = stack.services[name]
        if how == "url":
            parts = urlsplit(base[var].strip())
            target = _url_port(parts.scheme, explicit, service)
            if target is None:
                problems.append(
                    f"{var}: cannot tell which port of service {name!r} the URL means: write it in the URL "
                    f"({parts.scheme}://{name}:PORT) in service {worker_service!r}'s environment"
                )
                connections.append(Connection(var, base[var], name, 0, how))
                continue
            side = _host_side(service, target, runtime, var, problems)
            if side is None:
                connections.append(Connection(var, base[var], name, target, how))
                continue
            userinfo = parts.netloc.rpartition("@")[0]
            url = urlunsplit(parts._replace(netloc=netloc(f"{userinfo}@" if userinfo else "", side[0], side[1])))
            connections.append(Connection(var, base[var], name, target, how, set=((var, url),)))
            continue
        if how == "host:port":
            assert explicit is not None
            side = _host_side(service, explicit, runtime, var, problems)
            new = ((var, f"{netloc('', side[0], side[1])}"),) if side else ()
            connections.append(Connection(var, base[var], name, explicit, how, set=new))
            continue
        port_var = pairs.get(var) or sibling_port_var(var)
        target = _int(base.get(port_var, "")) if port_var in base else None
        target = target if target is not None else _single_port(service)
        if target is None:
            problems.append(
                f"{var}={name}: cannot tell which port of service {name!r} the dev worker uses: add "
                f'`{port_var}: "PORT"` to service {worker_service!r}\'s environment (or, if {var} is no '
                f'address, `"!{var}"` (quoted: YAML reads a bare ! as a tag) to dev.host_port_vars)'
            )
            connections.append(Connection(var, base[var], name, 0, how, port_var))
            continue
        via = f"{var}/{port_var}" if port_var in base else var
        side = _host_side(service, target, runtime, via, problems)
        if side is None:
            connections.append(Connection(var, base[var], name, target, how, port_var))
            continue
        new_values: list[tuple[str, str]] = [(var, side[0])]
        # The port goes in the port variable, also where the service left it to the app's default.
        if port_var in base or side[1] != target:
            new_values.append((port_var, str(side[1])))
        connections.append(Connection(var, base[var], name, target, how, port_var, tuple(new_values)))
    return connections, problems


def _endpoint(connection: Connection, env: dict[str, str], environ: dict[str, str]) -> Endpoint | None:
    """The address the dev worker will dial for a connection (the shell's values win)."""
    var, port_var = connection.var, connection.port_var
    value = env.get(var, "")
    in_shell = var in environ or (bool(port_var) and port_var in environ)
    if not connection.set and not in_shell:
        return None
    service = "" if var in environ else connection.service
    if connection.how == "url":
        parts = urlsplit(value)
        port = _url_port(parts.scheme, _port_of(parts), None)
        if parts.hostname and port is not None:
            return Endpoint(var, parts.hostname, port, service, connection.target)
        return None
    if connection.how == "host:port":
        host, _, port_text = value.rpartition(":")
        port = _int(port_text)
        return Endpoint(var, host.strip("[]"), port, service, connection.target) if host and port else None
    port = _int(env.get(port_var, "")) if port_var in env else None
    if port is None:
        port = next((_int(v) for k, v in connection.set if k == port_var), None) or connection.target or None
    via = f"{var}/{port_var}" if port_var in env else var
    return Endpoint(via, value, port, service, connection.target) if value and port else None


def dev_environment(
    stack: StackConfig,
    worker_service: str,
    environ: dict[str, str],
    *,
    scheduler: bool,
    host_port_vars: Sequence[tuple[str, str]],
    url_vars: Sequence[str],
    exclude: Sequence[str] = (),
    scheduler_var: str = "ENABLE_SCHEDULER",
    dotenv_scheduler: str | None = None,
    runtime: RuntimePorts | None = None,
) -> DevEnv:
    """The dev worker's environment, the addresses it will dial, and what stops it from working.

    `environ` is the shell's environment (it wins); `dotenv_scheduler` is the env file's value of the
    scheduler variable, which the env file documents as the dev worker's setting.
    """
    service = stack.service(worker_service)
    base = dict(service.environment) if service else {}
    connections, problems = find_connections(
        stack,
        worker_service,
        base,
        host_port_vars=host_port_vars,
        url_vars=url_vars,
        exclude=exclude,
        runtime=runtime,
    )
    swapped = {k: v for c in connections for k, v in c.set}
    env = {**base, **swapped, "WORKER_NAME": "dev"}
    notes = []
    if base.get("NODE_ENV", "").strip().lower() == "production" and "NODE_ENV" not in environ:
        # An env file written for self-hosting: a dev worker in production mode hides stack traces,
        # skips dev-only code paths and may refuse dev settings. The container keeps its value.
        env["NODE_ENV"] = "development"
        notes.append(
            "NODE_ENV=development for the dev worker (the service has production; set NODE_ENV in the worker's "
            "`dev_env` in invoke.yaml, or in your shell, to choose)"
        )
    if dotenv_scheduler is not None:
        env[scheduler_var] = dotenv_scheduler
    env.update(environ)
    if not scheduler:
        env[scheduler_var] = "false"
    endpoints = [e for e in (_endpoint(c, env, environ) for c in connections) if e is not None]
    # A configured variable the shell sets to another address is checked too.
    named = {c.var for c in connections}
    for host_var, port_var in host_port_vars:
        if host_var in environ and host_var not in named and port_var and _int(env.get(port_var, "")):
            endpoints.append(Endpoint(f"{host_var}/{port_var}", environ[host_var], _int(env[port_var]) or 0))
    for var in url_vars:
        if var in environ and var not in named:
            parts = urlsplit(environ[var])
            port = _url_port(parts.scheme, _port_of(parts), None)
            if parts.hostname and port is not None:
                endpoints.append(Endpoint(var, parts.hostname, port))
    return DevEnv(env, endpoints, problems, connections, notes)


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except (ValueError, AttributeError):
        return None


def _port_of(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:  # a port out of range or not a number
        return None


def unreachable(endpoint: Endpoint) -> str:
    """The error line for an address that does not answer."""
    where = f"{endpoint.host}:{endpoint.port}"
    if endpoint.service:
        return (
            f"the dev worker would reach service {endpoint.service!r} at {where} ({endpoint.via}), but nothing "
            f"answers there: start the stack (`inv stack.up`), or check the {endpoint.service!r} service's `ports:` "
            "and your shell's variables"
        )
    return (
        f"the dev worker would connect to {where} ({endpoint.via} from your shell), but nothing answers there: "
        "fix or unset that variable"
    )
