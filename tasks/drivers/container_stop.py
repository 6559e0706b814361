"""Stopping a worker service so its consumers finish their jobs, and saying what the stop did.

Every stop of the background worker goes through `stop_worker` (worker.down, worker.restart,
stack.down, the dev handover). Before `docker compose stop`, one `docker exec <container> node -e
<tasks/runner/consumers.cjs> snapshot <redis port>` lists the container's processes; the ones
connected to Redis are the consumers (`tasks.knowledge.stop_reach`). Those Docker's SIGTERM would not
reach (below `npm run dev` -> `sh -c` -> `tsx watch`, or the forks of a `node:cluster` primary) get
SIGTERM once from inside the container (a second exec, `stop`), and are waited for up to the
service's grace period; then `docker compose stop` ends what wraps them, as before. The line said
before the stop tells what happens to the jobs; a stop that ended in Docker's SIGKILL (exit 137) is
said in one line after it. Where the container cannot be looked into (no node in it, not running, an
engine error), one line says so and the stop is today's.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..drivers.compose import Compose
from ..drivers.process import Completed
from ..knowledge import stop_reach
from ..knowledge.bullmq_clients import redis_addresses
from ..knowledge.dev_env import parse_names, parse_pairs
from ..knowledge.failures import UserError

#: Docker's stop timeout when the container sets none (Compose's stop_grace_period default).
DEFAULT_GRACE_S = 10.0
#: Redis's port when no variable of the service names one (what ioredis dials by default).
DEFAULT_REDIS_PORT = 6379
#: A stop this much shorter than the grace period may still have ended in Docker's kill (clocks, rounding).
KILL_SLACK_S = 0.5


def _say(line: str) -> None:
    print(line, flush=True)


@functools.cache
def script() -> str:
    """The in-container script's text (package data beside this package's modules)."""
    return (Path(__file__).resolve().parents[1] / "runner" / "consumers.cjs").read_text(encoding="utf-8")


def redis_ports(compose: Compose, name: str | None = None) -> tuple[set[int], str]:
    """The Redis ports the worker service (or the service ``name``) dials (container side, from its
    resolved environment), and a note when none is named (then Redis's default port)."""
    from ..drivers import stack_facts

    s = compose.settings
    try:
        service = stack_facts.load(compose).service(name or s.service)
    except UserError:
        service = None
    env = dict(service.environment) if service else {}
    pairs = [(h, p) for h, p in parse_pairs(s.host_port_vars) if "REDIS" in h.upper()]
    urls = parse_names(s.url_vars)
    found = {a.port for a in redis_addresses(env, pairs, urls) if a.port}
    found |= {a.port for a in redis_addresses(env, [], list(env)) if a.port}  # any redis:// URL of the service
    if found:
        return found, ""
    return {DEFAULT_REDIS_PORT}, f" (no variable of the service names Redis: its default port {DEFAULT_REDIS_PORT})"


@dataclass
class Looked:
    """What was found inside one running container before the stop."""

    container: str
    grace_s: float
    service: str = ""  # the service it belongs to ("": the worker service)
    subject: str = ""  # how the lines name it (`background worker`, `email-copy service`)
    plan: stop_reach.StopPlan | None = None
    problem: str = ""
    report: stop_reach.StopReport | None = None

    @property
    def consumers_gone(self) -> bool:
        """Every consumer was signalled from inside and exited before Docker's stop."""
        if self.plan is None or not self.plan.consumers or self.report is None:
            return False
        signalled = {c.pid for c in self.plan.to_signal}
        exited = {r.pid for r in self.report.results if r.exited}
        return signalled == {c.pid for c in self.plan.consumers} and signalled <= exited


def _grace(details: dict[str, Any]) -> float:
    timeout = (details.get("Config") or {}).get("StopTimeout")
    return float(timeout) if isinstance(timeout, (int, float)) and timeout >= 0 else DEFAULT_GRACE_S


def look(compose: Compose, container: str, details: dict[str, Any], ports: set[int]) -> Looked:
    """The consumers of one running container and what a stop does to them (never raises)."""
    looked = Looked(container, _grace(details))
    result = compose.gateway.docker("exec", container, "node", "-e", script(), "snapshot", *map(str, sorted(ports)))
    if not result.ok:
        text = (result.stderr or result.stdout).strip().splitlines()
        looked.problem = f"`docker exec {container} node` failed: {text[-1] if text else f'exit {result.returncode}'}"
        return looked
    snapshot = stop_reach.parse_snapshot(result.stdout)
    if isinstance(snapshot, str):
        looked.problem = snapshot
        return looked
    looked.plan = stop_reach.plan(snapshot, ports)
    if not looked.plan.consumers and stop_reach.unowned_connections(snapshot, ports):
        looked.plan = None
        looked.problem = "its connections to Redis belong to processes `docker exec` may not read (another user)"
    return looked


def signal_consumers(compose: Compose, looked: Looked) -> stop_reach.StopReport | None:
    """Send the unreached consumers their signal once and wait for them (up to the grace period)."""
    assert looked.plan is not None
    argv = stop_reach.stop_argv(looked.plan.to_signal, looked.grace_s)
    result = compose.gateway.docker("exec", looked.container, "node", "-e", script(), *argv)
    report = stop_reach.parse_stop_report(result.stdout)
    if report is None and not compose.ps_running(looked.service or compose.settings.service):
        # The container ended while we waited (a wrapper that exits with its child): they are gone.
        report = stop_reach.StopReport(0, tuple(stop_reach.Stopped(c.pid, True, True) for c in looked.plan.to_signal))
    return report


def inspect_many(compose: Compose, names: list[str]) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    result = compose.gateway.docker("inspect", *names)
    try:
        found = json.loads(result.stdout) if result.ok else []
    except ValueError:
        found = []
    return {str(d.get("Name", "")).lstrip("/"): d for d in found if isinstance(d, dict)}


def stop_worker(
    compose: Compose,
    *,
    subject: str | None = None,
    say: Callable[[str], None] = _say,
    capture: bool = False,
    fail: str | None = None,
    restart: bool = False,
    started: Callable[[int], None] | None = None,
    only_running: bool = False,
    also: Sequence[str] = (),
) -> Completed:
    """Stop the worker service so that its consumers finish their jobs, saying what happens to them.

    ``restart``: start it again afterwards (`compose start`: worker.restart). ``only_running``: no
    Compose call at all when no container of it runs (stack.down, whose `down` follows). ``fail``: raise
    ``UserError("<fail> failed: ...")`` when a Compose command fails (else its result is returned).
    ``started``: told the pid of `docker compose stop` once it runs (a dev session records it, so that
    the guardian of a killed session waits for that stop before it restores). ``also``: other services
    stopped the same way by the same `docker compose stop` (a dev session's services that step aside
    with the worker: one command, so one pid for the guardian to wait for)."""
    s = compose.settings
    subject = subject or f"{s.service} service"
    services = [s.service, *(a for a in also if a != s.service)]
    subjects = {s.service: subject, **{a: f"{a} service" for a in services[1:]}}
    try:
        every = compose.containers() if len(services) > 1 else compose.containers(s.service)
        containers = [ct for ct in every if ct.service in subjects]
    except UserError:
        containers = []
    running = [ct for ct in containers if ct.running]
    if only_running and not running and not any(ct.state == "restarting" for ct in containers):
        return Completed(["docker", "compose", "stop", *services], 0, "", "")
    looked: list[Looked] = []
    if running:
        from concurrent.futures import ThreadPoolExecutor

        # The grace periods (`docker inspect`) are asked while the containers are looked into.
        with ThreadPoolExecutor(max_workers=1) as pool:
            inspected = pool.submit(inspect_many, compose, [ct.name for ct in running])
            ports = {name: redis_ports(compose, name) for name in dict.fromkeys(ct.service for ct in running)}
            for ct in running:
                each = look(compose, ct.name, {}, ports[ct.service][0])
                each.service, each.subject = ct.service, subjects[ct.service]
                looked.append(each)
            details = inspected.result()
        for each in looked:
            each.grace_s = _grace(details.get(each.container, {}))
        for each in looked:
            mates = sum(1 for other in looked if other.service == each.service)
            where = f" ({each.container})" if mates > 1 else ""
            if each.plan is None:
                say(
                    f"stopping the {each.subject}{where} (its consumers could not be looked at: {each.problem}; a "
                    "consumer that handles SIGTERM and receives it finishes its current job) ..."
                )
                continue
            clause = stop_reach.stop_clause(each.plan)
            port_note = ports[each.service][1]
            say(f"stopping the {each.subject}{where} ({clause}{port_note if not each.plan.consumers else ''}) ...")
            if each.plan.to_signal:
                each.report = signal_consumers(compose, each)
                say(f"  {stop_reach.after_signal(each.report, each.grace_s)}")
    for service in services:
        if not any(ct.running for ct in containers if ct.service == service) and any(
            ct.state == "restarting" for ct in containers if ct.service == service
        ):
            say(f"stopping the {subjects[service]} (it was restarting) ...")
    # Consumers that outlived the whole grace period already had it: Docker's stop gets what is left
    # of it (not a second grace period), then kills them as it would have.
    overdue = [each for each in looked if each.report is not None and not all(r.exited for r in each.report.results)]
    timeout: list[str] = []
    if overdue:
        left = min(max(0.0, each.grace_s - each.report.waited_ms / 1000) for each in overdue if each.report)
        timeout = ["--timeout", str(int(left))]
    began = time.monotonic()
    result = compose.run("stop", *timeout, *services, capture=capture, started=started)
    took = time.monotonic() - began
    # Docker's SIGKILL comes only at the end of the grace period: a quicker stop needs no look (and a
    # handover gives the queue to the dev worker without waiting for one more `docker inspect`).
    slow = [each for each in looked if each in overdue or took >= each.grace_s - KILL_SLACK_S]
    if slow:
        after = inspect_many(compose, [each.container for each in slow])
        for each in slow:
            state = (after.get(each.container) or {}).get("State") or {}
            if state.get("ExitCode") == 137 and not state.get("OOMKilled") and not state.get("Running"):
                say(stop_reach.killed_line(each.subject, each.grace_s, each.consumers_gone))
    if restart and result.ok:
        result = compose.run("start", s.service, capture=capture, profiles=[s.profile])
    if fail is not None and not result.ok:
        raise UserError(f"{fail} failed: {compose.diagnose(result)}")
    return result


def doctor_lines(compose: Compose) -> tuple[str, list[str]] | None:
    """What `inv doctor` says of the running worker container's consumers: an OK text and WARN texts
    (None: no container runs)."""
    s = compose.settings
    try:
        running = [ct.name for ct in compose.containers(s.service) if ct.running]
    except UserError as error:
        return f"cannot tell whether a stop lets its jobs finish ({error.reason})", []
    if not running:
        return None
    details = inspect_many(compose, running[:1])
    ports, note = redis_ports(compose)
    looked = look(compose, running[0], details.get(running[0], {}), ports)
    if looked.plan is None:
        return f"cannot tell whether a stop lets its jobs finish ({looked.problem})", []
    warnings = stop_reach.doctor_warnings(looked.plan)
    return f"on a stop: {stop_reach.stop_clause(looked.plan)}{note if not looked.plan.consumers else ''}", warnings
