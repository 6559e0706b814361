"""Before an `up`: say which running services Compose will re-create and why, and refuse to
re-create a Redis that would lose the keys it holds (`tasks.knowledge.recreate`) unless asked to."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..drivers import stack_facts
from ..drivers.compose import Compose
from ..knowledge.compose_cli import ContainerState
from ..knowledge.failures import UserError
from ..knowledge.recreate_loss import (
    RedisData,
    config_value,
    diverged,
    down_loss,
    keys_in,
    notice,
    reason,
    refusal,
)


def redis_data(compose: Compose, container: ContainerState) -> RedisData | str:
    """What the Redis in this container holds and keeps, asked inside it (`redis-cli`; its port may be
    unpublished, which is why it is re-created); why not, when it cannot be asked."""
    answers = []
    for words in (
        ("INFO", "keyspace"),
        ("CONFIG", "GET", "save"),
        ("CONFIG", "GET", "appendonly"),
        ("CONFIG", "GET", "dir"),
    ):
        result = compose.gateway.docker("exec", container.name, "redis-cli", *words)
        text = result.stdout.strip()
        if not result.ok or text.startswith(("ERR", "NOAUTH", "WRONGPASS")):
            return (text or result.stderr.strip() or "no answer").splitlines()[0]
        answers.append(result.stdout)
    found = compose.gateway.docker("inspect", "--format", "{{json .Mounts}}", container.name)
    try:
        mounts = tuple(str(m.get("Destination") or "") for m in json.loads(found.stdout or "[]") or [])
    except (ValueError, AttributeError):
        mounts = ()
    return RedisData(
        keys_in(answers[0]),
        config_value(answers[1]),
        config_value(answers[2]),
        config_value(answers[3]),
        mounts if found.ok else (),
    )


def check(
    compose: Compose,
    services: list[str],
    *,
    task: str,
    accept: bool,
    accept_hint: str,
    profiles: list[str],
    extra_env: dict[str, str],
    hashes: Mapping[str, str] | None = None,
) -> None:
    """Say in one line which of these services' running containers `up` re-creates, and why; raise
    when one is a Redis whose keys would be lost and ``accept`` is not given (``accept_hint``: the
    flag that gives it). Nothing is said when Docker or Compose cannot tell (the `up` says the rest).
    ``hashes``: Compose's `config --hash` already asked for the same files and variables (reused when
    it covers every running service here)."""
    try:
        running = [ct for ct in compose.containers() if ct.running and ct.service in services]
    except UserError:
        return
    if not running:
        return
    wanted = sorted({ct.service for ct in running})
    if hashes is None or not set(wanted) <= set(hashes):
        hashes = stack_facts.config_hashes(compose, wanted, profiles, extra_env)
    changed = diverged(running, hashes)
    if not changed:
        return
    stack = stack_facts.load(compose)
    container = {ct.service: ct for ct in running}
    reasons = {name: reason(stack.service(name), container[name]) for name in changed}
    print(f"note: {notice(task, reasons)}", flush=True)
    for name in changed:
        service = stack.service(name)
        if service is None or not service.runs_redis:
            continue
        data = redis_data(compose, container[name])
        if isinstance(data, str):
            print(f"note: cannot tell what re-creating {name} loses (redis-cli in it: {data})", flush=True)
            continue
        loss = data.loss()
        if loss and not accept:
            raise UserError(refusal(task, name, reasons[name], loss, accept_hint))
        if loss:
            lost = f"{data.keys} key is" if data.keys == 1 else f"{data.keys} keys are"
            print(f"note: {name}'s {lost} lost with its container (--recreate)", flush=True)


def down_losses(compose: Compose, volumes: bool) -> tuple[dict[str, str], list[str]]:
    """Before `stack.down`: the running Redis services whose keys go with their containers (service ->
    why), and every running Redis service; a note is printed for one that cannot be asked."""
    try:
        running = [ct for ct in compose.containers() if ct.running]
        stack = stack_facts.load(compose)
    except UserError:
        return {}, []
    losses: dict[str, str] = {}
    redis = []
    for ct in running:
        service = stack.service(ct.service)
        if service is None or not service.runs_redis:
            continue
        redis.append(ct.service)
        data = redis_data(compose, ct)
        if isinstance(data, str):
            print(f"note: cannot tell what removing {ct.service} loses (redis-cli in it: {data})", flush=True)
            continue
        loss = down_loss(data, service.mounts, volumes)
        if loss:
            losses[ct.service] = loss
    return losses, redis
