"""Before `inv dev.worker` touches the background worker: the dev worker's environment, and a check
that every address it will dial answers.

The environment is the worker service's as Compose resolves it (`tasks.knowledge.dev_env`), with the
host side of each connection swapped in. A service that publishes no port, or an address where
nothing answers, is refused with one line, before anything is stopped: a dev worker that cannot
reach Redis would otherwise retry forever while the queue stays unserved.
"""

from __future__ import annotations

import os
import socket

from ..drivers import progress, stack_facts
from ..drivers.compose import Compose
from ..knowledge.dev_env import (
    DevEnv,
    RuntimePorts,
    dev_environment,
    parse_exclusions,
    parse_names,
    parse_pairs,
    unreachable,
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


def _runtime_ports(compose: Compose) -> RuntimePorts:
    """Host ports Compose picked at `up` for ports published without one (from `ps`)."""
    try:
        containers = compose.ps()
    except UserError:
        return {}
    ports: RuntimePorts = {}
    for container in containers:
        if not container.running:
            continue
        for pub in container.publishers:
            if pub.published:
                host = "127.0.0.1" if pub.host_ip in ("", "0.0.0.0") else "::1" if pub.host_ip == "::" else pub.host_ip
                ports.setdefault((container.service, pub.target), (host, pub.published))
    return ports


def environment(compose: Compose, scheduler: bool, environ: dict[str, str] | None = None) -> DevEnv:
    """The dev worker's environment and the addresses it will dial (nothing checked yet)."""
    s = compose.settings
    stack = stack_facts.load(compose)
    if stack.service(s.service) is None:
        raise UserError(explain(Failure.UNKNOWN_SERVICE, f"no such service: {s.service}"))
    needs_runtime = any(p.published is None for svc in stack.services.values() for p in svc.ports)
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
        runtime=_runtime_ports(compose) if needs_runtime else {},
    )


def prepare(compose: Compose, scheduler: bool) -> DevEnv:
    """The dev worker's environment and the addresses it dials, each answering; raises one `error:`
    line when it could not work."""
    plan = environment(compose, scheduler)
    problems = list(plan.problems)
    addresses = ", ".join(f"{e.host}:{e.port}" for e in plan.endpoints)
    with progress.ticking(f"the addresses the dev worker dials to answer ({addresses})"):
        for endpoint in plan.endpoints:
            if not answers(endpoint.host, endpoint.port):
                problems.append(unreachable(endpoint))
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise UserError(f"{problems[0]}{more}; the {background(compose.settings.service)} was not touched")
    return plan
