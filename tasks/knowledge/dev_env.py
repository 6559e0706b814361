"""The dev worker's environment on the host, from the worker service's environment (pure).

Inside Compose the worker reaches its services by name (`REDIS_HOST=redis`, `DATABASE_URL=
postgres://u:p@postgres:5432/db`). On the host the dev worker gets the same environment, as
Compose resolved it, with the host side of every such connection swapped in: the address where
that service's port is published. Which variables carry addresses is found by their values (a
service name in a host variable, `service:port`, a URL whose host is a service); the configured
lists (`dev.host_port_vars`, `dev.url_vars`) only add, and their `!NAME` entries exclude. The shell's
own variables win over everything.

Only addresses are rewritten: a bare service name in a variable that is no host variable
(`MAIL_TRANSPORT=mailpit`: no `_HOST`-like name, no port variable beside it, not configured) is left
as it is, with a note. A connection the dev worker cannot get is a warning, unless it leads to a
Redis (where the queue lives: without it the dev worker would only retry while nobody serves the
queue); two variables that lead to different services never share one host address.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
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
    #: It leads to a Redis (the queue's, or one like it): where nothing answers, the session refuses.
    redis: bool = field(default=False, compare=False)


@dataclass
class DevEnv:
    env: dict[str, str]
    endpoints: list[Endpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # each one refuses the session
    connections: list[Connection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the dev worker gets unlike the container, said once
    warnings: list[str] = field(default_factory=list)  # connections it cannot get that the queue does not need


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
    problem: str = ""  # why it is unresolved (`set` empty), one line
    note: str = ""  # how == "name": a service's name that is no address, left as it is

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
    service: Service, target: int, runtime: RuntimePorts, via: str, running: Collection[str] | None
) -> tuple[str, int] | str:
    """Where the host reaches this container port: (host, port), or why it cannot (one line).

    ``running``: the services with a running container (None: not known). A running container is
    asked first (`runtime`): it is what answers now, whatever the configuration says. One that runs
    without the port published was created before the port was added: only re-creating it helps."""
    port: Port | None = service.port(target)
    if (service.name, target) in runtime:
        return runtime[(service.name, target)]
    if port is not None and running is not None and service.name in running:
        return (
            f"service {service.name!r} runs in a container created without its port {target} published, so "
            f"nothing on the host reaches it ({via} leads there): `inv stack.up` re-creates it (and says first "
            "what that means for its data)"
        )
    if port is not None and port.published is not None:
        return port.connect_host, port.published
    if port is not None and running is not None:
        return (
            f"service {service.name!r} publishes {target} on a host port Compose picks at `up`, and it is not "
            f"running ({via} leads there): `inv stack.up` starts it"
        )
    if port is not None:
        return (
            f"service {service.name!r} publishes {target} on a host port Compose picks at `up`, and no running "
            f"container of it publishes it (the dev worker reaches it through {via}): it is not started, or was "
            f"started before the port was added: `inv stack.up` (re)creates it"
        )
    return (
        f"service {service.name!r} publishes no port for {target}, which the dev worker reaches through "
        f"{via}: {publish_hint(service.name, target)}"
    )


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


def is_host_var(var: str) -> bool:
    """`REDIS_HOST`, `SMTP_SERVER`, `SEARCH_ADDR`: a name that says its value is a host."""
    return var in ("HOST", "HOSTNAME") or any(
        var.endswith(suffix) and len(var) > len(suffix) for suffix in _HOST_SUFFIXES
    )


def find_connections(
    stack: StackConfig,
    worker_service: str,
    base: dict[str, str],
    *,
    host_port_vars: Sequence[tuple[str, str]] = (),
    url_vars: Sequence[str] = (),
    exclude: Sequence[str] = (),
    runtime: RuntimePorts | None = None,
    running: Collection[str] | None = None,
) -> tuple[list[Connection], list[str]]:
    """Every variable of the worker service's resolved environment (`base`) that reaches another
    service, by its value: a service name in a host variable (`X_HOST`, or one whose port variable
    the service sets), `service:port`, or a URL whose host is a service. The configured pairs name
    a port variable that does not follow `X_HOST`/`X_PORT` (and make a variable a host variable);
    `url_vars` are read as URLs whatever they hold; `exclude` are never touched. A service's bare
    name in any other variable is a connection of `how` "name" with a note, left as it is.
    ``runtime``/``running``: see `_host_side`. Returns the connections and the problems (one line
    each, also on its connection: the variable, the service, what to do)."""
    runtime = runtime or {}
    skip = {worker_service}
    excluded = set(exclude)
    pairs = {host: port for host, port in host_port_vars if host not in excluded}
    ports_taken = {port for port in pairs.values() if port}
    connections: list[Connection] = []
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
                problem = (
                    f"{var}: cannot tell which port of service {name!r} the URL means: write it in the URL "
                    f"({parts.scheme}://{name}:PORT) in service {worker_service!r}'s environment"
                )
                connections.append(Connection(var, base[var], name, 0, how, problem=problem))
                continue
            side = _host_side(service, target, runtime, var, running)
            if isinstance(side, str):
                connections.append(Connection(var, base[var], name, target, how, problem=side))
                continue
            userinfo = parts.netloc.rpartition("@")[0]
            url = urlunsplit(parts._replace(netloc=netloc(f"{userinfo}@" if userinfo else "", side[0], side[1])))
            connections.append(Connection(var, base[var], name, target, how, set=((var, url),)))
            continue
        if how == "host:port":
            assert explicit is not None
            side = _host_side(service, explicit, runtime, var, running)
            if isinstance(side, str):
                connections.append(Connection(var, base[var], name, explicit, how, problem=side))
            else:
                new = ((var, netloc("", side[0], side[1])),)
                connections.append(Connection(var, base[var], name, explicit, how, set=new))
            continue
        port_var = pairs.get(var) or sibling_port_var(var)
        if var not in pairs and port_var not in base and not is_host_var(var):
            note = (
                f"{var}={base[var]} names service {name!r} but is no address (no URL, no host:port, no host "
                f"variable with its port variable): left as it is (if it is a host, add `{var}:PORT_VARIABLE` "
                "to dev.host_port_vars)"
            )
            connections.append(Connection(var, base[var], name, 0, "name", note=note))
            continue
        target = _int(base.get(port_var, "")) if port_var in base else None
        target = target if target is not None else _single_port(service)
        if target is None:
            problem = (
                f"{var}={name}: cannot tell which port of service {name!r} the dev worker uses: add "
                f'`{port_var}: "PORT"` to service {worker_service!r}\'s environment (or, if {var} is no '
                f'address, `"!{var}"` (quoted: YAML reads a bare ! as a tag) to dev.host_port_vars)'
            )
            connections.append(Connection(var, base[var], name, 0, how, port_var, problem=problem))
            continue
        via = f"{var}/{port_var}" if port_var in base else var
        side = _host_side(service, target, runtime, via, running)
        if isinstance(side, str):
            connections.append(Connection(var, base[var], name, target, how, port_var, problem=side))
            continue
        new_values: list[tuple[str, str]] = [(var, side[0])]
        # The port goes in the port variable, also where the service left it to the app's default.
        if port_var in base or side[1] != target:
            new_values.append((port_var, str(side[1])))
        connections.append(Connection(var, base[var], name, target, how, port_var, tuple(new_values)))
    return connections, [c.problem for c in connections if c.problem]


def clashes(addresses: Sequence[tuple[str, str, str, int]]) -> list[str]:
    """One line per host address that variables leading to different services would share
    (`(variable, service, host, port)` each): the dev worker would talk to one service for another
    (two Postgres on one port: the wrong database). The same service through two variables is fine."""
    seen: dict[tuple[str, int], tuple[str, str]] = {}
    lines = []
    for var, service, host, port in addresses:
        first = seen.setdefault((_LOOPBACK.get(host.lower(), host.lower()), port), (var, service))
        if first[1] != service:
            lines.append(
                f"two services at one address: {first[0]} (service {first[1]!r}) and {var} (service {service!r}) "
                f"would both reach {host}:{port} on the host, so the dev worker would take one for the other: give "
                "each service its own host port (their `ports:`, or your shell's values of those variables)"
            )
    return lines


#: Names of this machine's loopback address, as one.
_LOOPBACK = {"localhost": "127.0.0.1", "127.0.0.1": "127.0.0.1", "::1": "::1", "ip6-localhost": "::1"}


def connection_clashes(connections: Sequence[Connection]) -> list[str]:
    """`clashes` of the host addresses the connections were rewritten to (no shell values)."""
    found = []
    for connection in connections:
        endpoint = _endpoint(connection, dict(connection.set), {})
        if endpoint is not None:
            found.append((connection.var, connection.service, endpoint.host, endpoint.port))
    return clashes(found)


def _endpoint(
    connection: Connection, env: dict[str, str], environ: dict[str, str], redis: bool = False
) -> Endpoint | None:
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
            return Endpoint(var, parts.hostname, port, service, connection.target, redis)
        return None
    if connection.how == "host:port":
        host, _, port_text = value.rpartition(":")
        port = _int(port_text)
        return Endpoint(var, host.strip("[]"), port, service, connection.target, redis) if host and port else None
    port = _int(env.get(port_var, "")) if port_var in env else None
    if port is None:
        port = next((_int(v) for k, v in connection.set if k == port_var), None) or connection.target or None
    via = f"{var}/{port_var}" if port_var in env else var
    return Endpoint(via, value, port, service, connection.target, redis) if value and port else None


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
    running: Collection[str] | None = None,
) -> DevEnv:
    """The dev worker's environment, the addresses it will dial, and what stops it from working.

    `environ` is the shell's environment (it wins); `dotenv_scheduler` is the env file's value of the
    scheduler variable, which the env file documents as the dev worker's setting. `problems` refuse
    the session (a connection to a Redis it cannot get, two services at one address); `warnings`
    are the other connections it cannot get (said, the dev worker starts).
    """
    service = stack.service(worker_service)
    base = dict(service.environment) if service else {}
    connections, _ = find_connections(
        stack,
        worker_service,
        base,
        host_port_vars=host_port_vars,
        url_vars=url_vars,
        exclude=exclude,
        runtime=runtime,
        running=running,
    )
    swapped = {k: v for c in connections for k, v in c.set}
    env = {**base, **swapped, "WORKER_NAME": "dev"}
    notes = [c.note for c in connections if c.note]
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
    problems: list[str] = []
    warnings: list[str] = []
    endpoints: list[Endpoint] = []
    addresses: list[tuple[str, str, str, int]] = []
    for connection in connections:
        redis = leads_to_redis(stack, connection)
        if connection.problem:
            (problems if redis else warnings).append(connection.problem)
        endpoint = _endpoint(connection, env, environ, redis)
        if endpoint is not None:
            endpoints.append(endpoint)
            addresses.append((connection.var, connection.service, endpoint.host, endpoint.port))
    problems.extend(clashes(addresses))
    # A configured variable the shell sets to another address is checked too.
    named = {c.var for c in connections}
    for host_var, port_var in host_port_vars:
        if host_var in environ and host_var not in named and port_var and _int(env.get(port_var, "")):
            shell_port = _int(env[port_var]) or 0
            redis = "REDIS" in host_var
            endpoints.append(Endpoint(f"{host_var}/{port_var}", environ[host_var], shell_port, redis=redis))
    for var in url_vars:
        if var in environ and var not in named:
            parts = urlsplit(environ[var])
            port = _url_port(parts.scheme, _port_of(parts), None)
            if parts.hostname and port is not None:
                redis = parts.scheme.lower() in ("redis", "rediss") or "REDIS" in var
                endpoints.append(Endpoint(var, parts.hostname, port, redis=redis))
    return DevEnv(env, endpoints, problems, connections, notes, warnings)


def leads_to_redis(stack: StackConfig, connection: Connection) -> bool:
    """Does the variable lead to a Redis service (where the queue lives)?"""
    service = stack.service(connection.service)
    return service is not None and service.runs_redis


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


def unreachable_warning(endpoint: Endpoint) -> str:
    """The warning for an address of a service other than Redis that does not answer."""
    return f"{unreachable(endpoint)} (the dev worker is started anyway: only its Redis must answer first)"
