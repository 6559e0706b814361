"""What `inv worker.status` shows of each worker, with Docker asked before anything else is done.

Per worker, two Docker questions start at once, as soon as the project's name is known: one `docker
ps` of the project (the worker's containers, and where Redis is published for the queue read) and
`docker inspect` of the container by the name Compose gives it (checked against `docker ps`'s answer;
asked again by the names found when they differ). While the two `docker` processes run beside this
one, the modules that read the rest are imported; the queues are read from Redis once `docker ps` has
answered. No thread: nothing here waits on the GIL before Docker is asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from invoke.exceptions import Exit

from . import stack_facts, workers
from .compose import Compose

if TYPE_CHECKING:
    from invoke.context import Context

    from ..knowledge.compose_cli import ContainerState
    from ..knowledge.settings import Settings
    from ..knowledge.stack_config import ContainerFacts

Facts = dict[str, Any]


class _Asked:
    """One worker's Docker questions, started."""

    def __init__(self, s: Settings):
        self.settings = s
        self.compose = Compose(s)
        _ = self.compose.project_name, self.compose.base  # the cached configuration and Compose checks
        self.containers: Callable[[], list[ContainerState]] = self.compose.ask_containers()
        self.expected = stack_facts.container_name(self.compose, s.service)
        self.inspected: Callable[[], dict[str, ContainerFacts]] = stack_facts.ask_inspect(
            self.compose.gateway, [self.expected] if self.expected else []
        )


def ask(c: Context, name: str | None) -> Callable[[], list[Facts]]:
    """Start every selected worker's Docker questions and read what the answers need meanwhile; the
    call returned waits for the answers and gives each worker's facts (`status_view.worker_facts`).
    A task error (unknown worker, malformed .env, Docker missing) is raised by that call, so that
    `--json` turns it into its error document."""
    try:
        asked = [_Asked(s) for s in workers.select(c, name, commands=False)]
    except Exit as error:
        failure = error

        def fail() -> list[Facts]:
            raise failure

        return fail
    # Imported while Docker answers: what reads Redis, the handover record and the configuration.
    from ..knowledge import stack_config, status_view  # noqa: F401 (stack_config: the answers' parsers)
    from . import dev_preflight, handover, job_fate  # noqa: F401 (dev_preflight: job_fate's Redis lookup)

    return lambda: [_facts(a) for a in asked]


def _facts(a: _Asked) -> Facts:
    from ..knowledge import status_view
    from ..knowledge.failures import UserError
    from . import handover, job_fate

    s, compose = a.settings, a.compose
    project = a.containers()  # the project's: raises `docker ps failed: ...`
    containers = [ct for ct in project if ct.service == s.service]
    # The queues on its Redis (found as the dev worker finds it, at the ports just read) while
    # `docker inspect` finishes.
    read = job_fate.read_queues(compose, project)
    notes = []
    try:
        config = stack_facts.load(compose).service(s.service)
    except UserError as error:  # status still shows what Docker knows
        notes.append(error.reason)
        config = None
    names = [ct.name for ct in containers]
    inspected = a.inspected() if names == [a.expected] else stack_facts.inspect_containers(compose.gateway, names)
    view = status_view.facts(s.service, containers, config=config, inspected=inspected, scheduler_var=s.scheduler_var)
    dev_session = handover.describe(compose)
    # Counts and consumers, a consumer named by its container's address.
    by_ip = {ip: ct for ct, facts in inspected.items() for ip in facts.addresses}
    queues = job_fate.queues_view(read, by_ip, dev_session is not None)
    return status_view.worker_facts(s.worker_name or s.service, view, notes, dev_session, queues, read.problem)
