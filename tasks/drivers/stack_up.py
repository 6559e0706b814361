"""`up --wait` for the whole stack, telling a finished one-shot service from a crashed one."""

from __future__ import annotations

import sys

from ..drivers.compose import Compose
from ..knowledge.crash_loops import Started, parse_inspect, restarted, still_settling, untouched
from ..knowledge.failures import UserError
from ..knowledge.stack_config import StackConfig, UpOutcome, after_up

#: How often the crash-loop watch after `up --wait` asks Docker.
SETTLE_POLL_S = 0.25
#: The project's containers before an `up`, by id.
Baseline = dict[str, Started]


def show_logs(compose: Compose, services: list[str], lines: int = 20) -> list[str]:
    """Print the last log lines of these services (to stderr): the ones that failed, not the others.
    Returns the services that had some."""
    shown = []
    for service in dict.fromkeys(services):
        result = compose.run("logs", "--no-color", "--tail", str(lines), service, capture=True)
        text = (result.stdout + result.stderr).rstrip()
        if text:
            print(f"--- last {lines} log lines of {service} ---\n{text}\n---", file=sys.stderr, flush=True)
            shown.append(service)
    return shown


def outcome(compose: Compose, stack: StackConfig, services: list[str], before: Baseline) -> UpOutcome | None:
    """How the stack's containers stand after a failed `up` (those it never started left out: their
    state is older than it); None when Docker cannot be asked."""
    try:
        containers = compose.containers()
    except UserError:
        return None
    stale = {c.name for c in inspect_all(compose) if untouched(before, c)}
    return after_up(stack, services, [c for c in containers if c.name not in stale])


def up_wait(
    compose: Compose,
    stack: StackConfig,
    services: list[str],
    args: list[str],
    *,
    profiles: list[str],
    extra_env: dict[str, str],
    before: Baseline,
) -> UpOutcome | None:
    """`up -d --wait ARGS`; when it fails only because one-shot services finished (exit 0, restart
    "no"), wait again for the long-running ones alone (`--no-deps`: the finished ones are not run
    again). On a real failure, raises after printing the failing services' last log lines."""
    try:
        compose.check("up", "-d", "--wait", *args, what="starting the stack", profiles=profiles, extra_env=extra_env)
        return None
    except UserError as error:
        first = outcome(compose, stack, services, before)
        if first is None or first.failing or not first.finished:
            shown = show_logs(compose, [name for name, _ in first.failing] if first else [])
            raise _with_failing(error, first, shown) from None
        if not first.waiting:
            return first  # nothing but one-shot services, all finished
        try:
            compose.check(
                "up",
                "-d",
                "--wait",
                "--no-deps",
                *first.waiting,
                what="starting the stack",
                profiles=profiles,
                extra_env=extra_env,
            )
        except UserError as again:
            second = outcome(compose, stack, list(first.waiting), before)
            shown = show_logs(compose, [name for name, _ in second.failing] if second else [])
            raise _with_failing(again, second, shown) from None
        return first


def _with_failing(error: UserError, found: UpOutcome | None, shown: list[str]) -> UserError:
    if not found or not found.failing:
        return error
    listed = ", ".join(f"{name} {why}" for name, why in found.failing)
    logs = f"; last log lines of {', '.join(shown)} above" if shown else ""
    return UserError(f"{error.reason} ({listed}{logs})")


def inspect_all(compose: Compose) -> list[Started]:
    """Every container of the project as `docker inspect` sees it ([] when Docker cannot tell)."""
    try:
        names = [ct.name for ct in compose.containers()]
    except UserError:
        return []
    if not names:
        return []
    result = compose.gateway.docker("inspect", *names)
    return parse_inspect(result.stdout) if result.ok else []


def baseline(compose: Compose) -> Baseline:
    """The project's containers by id before `up` (restart counts, start times): what `outcome` and
    `require_no_crash_loop` compare with."""
    return {c.id: c for c in inspect_all(compose)}


def require_no_crash_loop(
    compose: Compose, services: list[str], before: Baseline, *, what: str = "starting the stack"
) -> None:
    """After `up --wait`: fail, with their last log lines, on services that restarted or exited non-zero
    since ``before``, watching those without a healthcheck until they have stayed up a moment."""
    import time

    begin = time.monotonic()
    while True:
        now = inspect_all(compose)
        failing = restarted(before, now, services)
        if failing:
            shown = show_logs(compose, [name for name, _ in failing])
            listed = ", ".join(f"{name} {why}" for name, why in failing)
            logs = f"; last log lines of {', '.join(shown)} above" if shown else ""
            raise UserError(f"{what}: {listed}{logs}")
        watched = time.monotonic() - begin
        if not still_settling(now, services, time.time(), watched):
            return
        time.sleep(SETTLE_POLL_S)
