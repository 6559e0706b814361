"""Would `docker compose up -d <worker>` change anything? (pure: reads what Docker and Compose said)

On a worker that already runs, healthy, from the current configuration and image, with its
dependencies up, Compose's `up -d` does nothing but costs a Compose start and a project load
(~0.6 s). Compose labels each container with the hash of the service configuration it was created
from (`com.docker.compose.config-hash`) and the id of the image it runs (`com.docker.compose.image`);
`docker compose config --hash` gives the hash of the current configuration. When every container
`up` would look at matches, `up` can be skipped; anything unknown or different means "run `up`".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..knowledge.compose_cli import ContainerState
from ..knowledge.prodlike_labels import is_prodlike

CONFIG_HASH_LABEL = "com.docker.compose.config-hash"
IMAGE_LABEL = "com.docker.compose.image"
#: The conditions under which a running dependency needs nothing from `up` (healthy when asked).
_CONDITIONS = {"service_started", "service_healthy"}
#: Pull policies under which `up` leaves a present image alone (`always`, `build`, `daily`, ... may
#: pull or build a new one on every `up`).
_QUIET_PULL = {"", "missing", "if_not_present", "never"}


def parse_hashes(output: str) -> dict[str, str]:
    """`docker compose config --hash a,b` prints `<service> <hash>` per line."""
    hashes = {}
    for line in output.splitlines():
        name, _, value = line.strip().partition(" ")
        if name and value.strip():
            hashes[name] = value.strip()
    return hashes


def dependency_conditions(services: Mapping[str, Any], service: str) -> dict[str, str] | None:
    """Every service `up -d <service>` starts besides it (transitively), with the strictest
    condition asked of it. None when the configuration cannot be read for that."""
    found: dict[str, str] = {}
    todo = [service]
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        raw = services.get(name)
        if not isinstance(raw, dict):
            return None
        depends = raw.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {str(d): {} for d in depends}
        if not isinstance(depends, dict):
            return None
        for dependency, spec in depends.items():
            condition = str((spec or {}).get("condition") or "service_started") if isinstance(spec, dict) else ""
            if found.get(dependency) != "service_healthy":
                found[str(dependency)] = condition
            todo.append(str(dependency))
    found.pop(service, None)
    return found


def why_not_noop(
    service: str,
    *,
    containers: list[ContainerState],
    hashes: Mapping[str, str],
    image_ids: Mapping[str, str],
    dependencies: Mapping[str, str] | None,
    build: bool = False,
    pull_policies: Mapping[str, str] | None = None,
) -> str | None:
    """None when `up -d <service>` would change nothing and the worker is ready; else why `up` runs.

    ``containers``: the project's containers (one `docker ps -a`); ``hashes``: `config --hash` of
    the service and its dependencies; ``image_ids``: the id of each one's image as tagged now
    (missing: not known); ``dependencies``: from `dependency_conditions`; ``pull_policies``: each
    service's `pull_policy` when set.
    """
    if build:
        return "--build asked"
    if dependencies is None:
        return "the dependencies could not be read"
    wanted = {service: "service_healthy", **dependencies}
    for name, condition in wanted.items():
        if condition not in _CONDITIONS:
            return f"{name} is needed with condition {condition or 'unknown'}"
        policy = (pull_policies or {}).get(name, "")
        if policy not in _QUIET_PULL:
            return f"{name} has pull_policy {policy}"
        mine = [ct for ct in containers if ct.service == name]
        if len(mine) != 1:
            return f"{name} has {len(mine)} containers"
        ct = mine[0]
        if name == service and is_prodlike(ct.labels):
            return f"{name} runs prod-like"
        if not ct.running:
            return f"{name} is {ct.state}"
        if condition == "service_healthy" and ct.health not in ("healthy", "" if name == service else "healthy"):
            return f"{name} is not healthy ({ct.health or 'no healthcheck'})"
        current = hashes.get(name, "")
        if not current or ct.labels.get(CONFIG_HASH_LABEL) != current:
            return f"{name}'s configuration changed"
        image = image_ids.get(name, "")
        if not image or ct.labels.get(IMAGE_LABEL) != image:
            return f"{name}'s image changed"
    return None
