"""The dev worker's environment on the host, from the worker service's environment (pure).

Inside Compose the worker reaches its services by name (`REDIS_HOST=redis`, `DATABASE_URL=
postgres://u:p@postgres:5432/db`). On the host the dev worker gets the same environment, as
Compose resolved it, with the host side of every such connection swapped in: the address where
that service's port is published. Which variables carry addresses is configured (`dev.host_port_vars`,
`dev.url_vars`); the shell's own variables win over everything, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from tasks.knowledge.stack_config import Port, Service, StackConfig

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


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """`"REDIS_HOST:REDIS_PORT, PGHOST:PGPORT"` -> [("REDIS_HOST", "REDIS_PORT"), ("PGHOST", "PGPORT")]."""
    pairs = []
    for item in text.replace(";", ",").split(","):
        host, _, port = item.strip().partition(":")
        if host.strip():
            pairs.append((host.strip(), port.strip()))
    return pairs


def parse_names(text: str) -> list[str]:
    return [item.strip() for item in text.replace(";", ",").split(",") if item.strip()]


def publish_hint(service: str, target: int) -> str:
    return f'add `ports: ["127.0.0.1:{target}:{target}"]` to service {service!r}'


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
            f"service {service.name!r} publishes {target} on a host port Compose picks at `up`, and it is not "
            f"running (the dev worker reaches it through {via}): start it first (`inv stack.up`), or "
            + publish_hint(service.name, target)
        )
        return None
    problems.append(
        f"service {service.name!r} publishes no port for {target}, which the dev worker reaches through "
        f"{via}: {publish_hint(service.name, target)}"
    )
    return None


def _url_port(scheme: str, explicit: int | None, service: Service | None) -> int | None:
    if explicit is not None:
        return explicit
    if scheme.lower() in SCHEME_PORTS:
        return SCHEME_PORTS[scheme.lower()]
    if service is not None and len(service.ports) == 1:
        return service.ports[0].target
    return None


def _netloc(userinfo: str, host: str, port: int) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"{userinfo}{host}:{port}"


def dev_environment(
    stack: StackConfig,
    worker_service: str,
    environ: dict[str, str],
    *,
    scheduler: bool,
    host_port_vars: list[tuple[str, str]],
    url_vars: list[str],
    scheduler_var: str = "ENABLE_SCHEDULER",
    dotenv_scheduler: str | None = None,
    runtime: RuntimePorts | None = None,
) -> DevEnv:
    """The dev worker's environment, the addresses it will dial, and what stops it from working.

    `environ` is the shell's environment (it wins); `dotenv_scheduler` is the env file's value of the
    scheduler variable, which the env file documents as the dev worker's setting.
    """
    runtime = runtime or {}
    service = stack.service(worker_service)
    base = dict(service.environment) if service else {}
    problems: list[str] = []
    endpoints: list[Endpoint] = []
    swapped: dict[str, str] = {}

    for host_var, port_var in host_port_vars:
        via = f"{host_var}/{port_var}" if port_var else host_var
        host = base.get(host_var, "")
        target = _int(base.get(port_var, "")) if port_var else None
        other = stack.service(host)
        if other is not None:
            if target is None and len(other.ports) == 1:
                target = other.ports[0].target
            if target is None:
                problems.append(
                    f"{via}: cannot tell which port of service {host!r} the dev worker uses "
                    f"(set {port_var or 'a port variable'} in the {worker_service} service's environment)"
                )
                continue
            side = _host_side(other, target, runtime, via, problems)
            if side is None:
                continue
            swapped[host_var] = side[0]
            if port_var:
                swapped[port_var] = str(side[1])
        final_host = environ.get(host_var, swapped.get(host_var, host))
        final_port = _int(environ.get(port_var, swapped.get(port_var, ""))) if port_var else None
        in_shell = host_var in environ or (bool(port_var) and port_var in environ)
        if (other is not None or in_shell) and final_host and final_port is not None:
            endpoints.append(Endpoint(via, final_host, final_port, other.name if other else "", target or 0))

    for var in url_vars:
        value = base.get(var)
        other = None
        target = None
        if value:
            parts = urlsplit(value)
            other = stack.service(parts.hostname or "")
            if other is not None:
                target = _url_port(parts.scheme, _port_of(parts), other)
                if target is None:
                    problems.append(f"{var}: cannot tell which port of service {other.name!r} the URL means")
                    continue
                side = _host_side(other, target, runtime, var, problems)
                if side is None:
                    continue
                userinfo = parts.netloc.rpartition("@")[0]
                swapped[var] = urlunsplit(
                    parts._replace(netloc=_netloc(f"{userinfo}@" if userinfo else "", side[0], side[1]))
                )
        final = environ.get(var, swapped.get(var, value or ""))
        if final and (other is not None or var in environ):
            parts = urlsplit(final)
            port = _url_port(parts.scheme, _port_of(parts), None)
            if parts.hostname and port is not None:
                endpoints.append(Endpoint(var, parts.hostname, port, other.name if other else "", target or 0))

    env = {**base, **swapped, "WORKER_NAME": "dev"}
    if dotenv_scheduler is not None:
        env[scheduler_var] = dotenv_scheduler
    env.update(environ)
    if not scheduler:
        env[scheduler_var] = "false"
    return DevEnv(env, endpoints, problems)


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
