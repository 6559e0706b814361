"""Before `inv dev.worker` touches the background worker: the dev worker's environment, and a check
that every address it will dial answers.

The environment is the worker service's as Compose resolves it (`tasks.knowledge.dev_env`), with the
host side of each connection swapped in. A Redis the dev worker cannot get (no host port, nothing
answering) is refused with one line, before anything is stopped: a dev worker that cannot reach the
queue would otherwise retry forever while the queue stays unserved. Any other connection it cannot
get is a warning (`DevEnv.warnings`): the dev worker starts, and the line names the variable.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from ..drivers import progress, stack_facts
from ..drivers.compose import Compose
from ..knowledge.compose_cli import ContainerState
from ..knowledge.dev_env import (
    DevEnv,
    RuntimePorts,
    dev_environment,
    parse_exclusions,
    parse_names,
    parse_pairs,
    unreachable,
    unreachable_warning,
)
from ..knowledge.failures import Failure, UserError, explain
from ..knowledge.naming import background

#: Seconds to wait for a TCP connect: a published port on this machine answers in well under 1 ms,
#: a refused one fails at once; this only bounds a host that drops packets.
CONNECT_TIMEOUT = 2.0


def answers(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def runtime_ports(
    compose: Compose, containers: Sequence[ContainerState] | None = None
) -> tuple[RuntimePorts, set[str]] | None:
    """Where the running containers publish their ports (`(service, container port) -> (host, port)`,
    from `docker ps`: a fifth of `compose ps`'s time), and the services that run; None when Docker
    cannot be asked. ``containers``: the project's, already read (`worker.status` reads them once)."""
    if containers is None:
        try:
            containers = compose.containers()
        except UserError:
            return None
    ports: RuntimePorts = {}
    running = set()
    for container in containers:
        if not container.running:
            continue
        running.add(container.service)
        for pub in container.publishers:
            if pub.published:
                host = "127.0.0.1" if pub.host_ip in ("", "0.0.0.0") else "::1" if pub.host_ip == "::" else pub.host_ip
                ports.setdefault((container.service, pub.target), (host, pub.published))
    return ports, running


def environment(
    compose: Compose,
    scheduler: bool,
    environ: dict[str, str] | None = None,
    containers: Sequence[ContainerState] | None = None,
) -> DevEnv:
    """The dev worker's environment and the addresses it will dial (nothing checked yet).
    ``containers``: the project's, when the caller has already read them."""
    s = compose.settings
    stack = stack_facts.load(compose)
    if stack.service(s.service) is None:
        raise UserError(explain(Failure.UNKNOWN_SERVICE, f"no such service: {s.service}"))
    # What runs is asked, not assumed: a container created before a port was added publishes none.
    runtime = runtime_ports(compose, containers)
    return dev_environment(
        stack,
        s.service,
        # The worker's `dev_env` from invoke.yaml on top of Compose's environment; the shell still wins.
        {**s.current.dev_env, **(os.environ if environ is None else environ)},
        scheduler=scheduler,
        host_port_vars=parse_pairs(s.host_port_vars),
        url_vars=parse_names(s.url_vars),
        exclude=parse_exclusions(s.host_port_vars, s.url_vars),
        scheduler_var=s.scheduler_var,
        dotenv_scheduler=compose.dotenv.values.get(s.scheduler_var),
        runtime=runtime[0] if runtime else {},
        running=runtime[1] if runtime else None,
    )


def prepare(compose: Compose, scheduler: bool) -> DevEnv:
    """The dev worker's environment and the addresses it dials; raises one `error:` line when it
    could not work (its Redis not answering, two services at one address). An address of another
    service that does not answer is added to `plan.warnings`."""
    plan = environment(compose, scheduler)
    problems = list(plan.problems)
    # A variable already said to be unresolved (a service publishing no port) is said once, not again
    # as an address that does not answer.
    said = {c.var for c in plan.connections if c.problem}
    addresses = ", ".join(f"{e.host}:{e.port}" for e in plan.endpoints)
    with progress.ticking(f"the addresses the dev worker dials to answer ({addresses})"):
        for endpoint in plan.endpoints:
            if said & set(endpoint.via.split("/")):
                continue
            if not answers(endpoint.host, endpoint.port):
                if endpoint.redis:
                    problems.append(unreachable(endpoint))
                else:
                    plan.warnings.append(unreachable_warning(endpoint))
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise UserError(f"{problems[0]}{more}; the {background(compose.settings.service)} was not touched")
    return plan
