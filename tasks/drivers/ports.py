"""Published ports already taken: named before `up` (and after it failed), with who holds them.

Compose's own message for this is `Bind for 127.0.0.1:5432 failed: port is already allocated` after
it has created half the stack. Before `up`, each fixed published port of the services about to start
is tried with a bind; only a port that cannot be bound costs a `docker ps` to see whether this
project's own container holds it (then it is no conflict), another project's, or a host process.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from typing import TYPE_CHECKING

from ..drivers import stack_facts
from ..drivers.compose import Compose
from ..drivers.gateway import Gateway
from ..knowledge.failures import UserError
from ..knowledge.settings import display
from ..knowledge.stack_config import Port, StackConfig, port_variable, published_ports

if TYPE_CHECKING:
    from ..knowledge.compose_cli import ContainerState


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bind_host(port: Port) -> str:
    return port.host_ip or "0.0.0.0"


def taken(host: str, port: int) -> bool:
    """Can nothing else bind this port? (An address this machine does not have is not "taken".)"""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        if os.name != "nt":  # POSIX: ignore TIME_WAIT leftovers; on Windows this would allow stealing
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            return error.errno != errno.EADDRNOTAVAIL
    return False


def free_port(host: str) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _containers_publishing(gateway: Gateway, port: int) -> list[dict[str, str]]:
    result = gateway.docker("ps", "--filter", f"publish={port}", "--format", "{{json .}}")
    rows = []
    for line in result.stdout.splitlines() if result.ok else []:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append({str(k): str(v) for k, v in row.items()})
    return rows


def _label(labels: str, key: str) -> str:
    for item in labels.split(","):
        name, _, value = item.partition("=")
        if name == key:
            return value
    return ""


def _host_process(port: int) -> str:
    try:
        import psutil

        for conn in psutil.net_connections(kind="inet"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return "a host process (unknown: not visible without root)"
                try:
                    return f"the host process {psutil.Process(conn.pid).name()} (pid {conn.pid})"
                except psutil.Error:
                    return f"the host process with pid {conn.pid}"
    except Exception:  # psutil.AccessDenied on macOS without root, or anything platform-specific
        return "unknown (the holder is not visible without root)"
    return "unknown (no visible listener: a process of another user, or one that just exited)"


def holder(compose: Compose, port: int) -> str | None:
    """Who holds a port; None when it is this project's own container."""
    for row in _containers_publishing(compose.gateway, port):
        project = _label(row.get("Labels", ""), "com.docker.compose.project")
        if project == compose.project_name:
            return None
        name = row.get("Names", "?")
        return f"container {name} of compose project {project!r}" if project else f"container {name}"
    return _host_process(port)


def _raw_ports(compose: Compose, service: str) -> object:
    found: object = None
    for _, data in stack_facts.raw_files(compose):  # a later file's ports are merged on top: any may set it
        raw = ((data.get("services") or {}).get(service) or {}).get("ports")
        if isinstance(raw, list):
            found = (found if isinstance(found, list) else []) + raw
    return found


def own_ports(compose: Compose) -> set[int]:
    """Host ports published by this project's running containers: one `docker ps` call."""
    result = compose.gateway.docker(
        "ps", "--filter", f"label=com.docker.compose.project={compose.project_name}", "--format", "{{.Ports}}"
    )
    return published_ports(result.stdout) if result.ok else set()


def conflicts(
    compose: Compose, stack: StackConfig, services: list[str], containers: list[ContainerState] | None = None
) -> list[str]:
    """One line per fixed published port of these services that someone else holds.

    ``containers``: the project's containers when the caller has just listed them (`docker ps -a`):
    their Ports column answers for this project's own ports without another `docker ps`."""
    s = compose.settings
    lines = []
    candidates = [
        (name, port)
        for name in services
        if name in stack.services
        for port in stack.services[name].ports
        if port.published is not None and port.protocol == "tcp" and taken(_bind_host(port), port.published)
    ]
    ours = set()
    if candidates and containers is not None:
        ours = published_ports(", ".join(ct.ports for ct in containers if ct.running))
    if any((port.published or 0) not in ours for _, port in candidates):
        ours = own_ports(compose)  # not all ours by the listing: ask Docker, as without one
    for name, port in candidates:
        published = port.published or 0
        if published in ours:
            continue  # this project's own running container: `up` keeps it
        who = holder(compose, published)
        if who is None:
            continue
        where = f"{port.host_ip}:{published}" if port.host_ip else str(published)
        variable = port_variable(_raw_ports(compose, name), port.target)
        try:
            spare = str(free_port(_bind_host(port)))
        except OSError:
            spare = "another"
        fix = (
            f"set {variable}={spare} in {display(compose.env_path, s.root)} (free now)"
            if variable
            else f"publish service {name!r}'s {port.target} on another host port in the compose file "
            f"(e.g. {spare}, free now)"
        )
        lines.append(
            f"port {where} of service {name!r}"
            + (f" ({variable})" if variable else "")
            + f" is already taken by {who}: {fix}, or stop what holds it"
        )
    return lines


def check_free(
    compose: Compose,
    services: list[str],
    stack: StackConfig | None = None,
    containers: list[ContainerState] | None = None,
) -> None:
    """Refuse `up` when a port the services publish is held by someone else (``containers``: see
    `conflicts`)."""
    stack = stack or stack_facts.load(compose)
    found = conflicts(compose, stack, stack.with_dependencies(services), containers)
    if found:
        more = f" (and {len(found) - 1} more: {'; '.join(found[1:])})" if len(found) > 1 else ""
        raise UserError(f"{found[0]}{more}")


def explain_failed_up(compose: Compose, services: list[str], error: UserError) -> UserError:
    """After a failed `up`: a port taken meanwhile (or in a race) explained, else the original error."""
    try:
        stack = stack_facts.load(compose)
        found = conflicts(compose, stack, stack.with_dependencies(services))
    except UserError:
        return error
    if not found:
        return error
    return UserError(f"{'; '.join(found)} (Compose could not start it: {error.reason})")
