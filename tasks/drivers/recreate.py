"""Stopping a running worker consumer-first before Compose re-creates it.

`up -d` re-creates a running worker container whose configuration or image changed (`worker.up`
after an edit or a build, `prodlike.up`, `prodlike.down`, `stack.up`), and stops the old one by
itself: SIGTERM to PID 1 only, which cuts the job of a consumer below a wrapper (`npm run dev` ->
`sh -c` -> `tsx watch`) or of a `node:cluster` fork. So each of those calls asks first, with the
files, profiles and variables of its `up` (`tasks.knowledge.recreate`), and when the answer is yes
stops the worker as `worker.down` does (`container_stop.stop_worker` inside `job_fate.around_stop`):
Compose then only replaces a stopped container.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ..drivers.compose import Compose
from ..knowledge import recreate
from ..knowledge.compose_cli import ContainerState


def image_id(compose: Compose, image: str) -> str:
    """The id the tag ``image`` names now; `recreate.MISSING_IMAGE` when there is none, "" when
    Docker cannot tell."""
    result = compose.gateway.docker("image", "inspect", "--format", "{{.Id}}", image)
    if result.ok:
        return result.stdout.strip()
    return recreate.MISSING_IMAGE if "no such image" in (result.stderr + result.stdout).lower() else ""


def stop_if_recreated(
    compose: Compose,
    *,
    files: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    containers: Sequence[ContainerState] | None = None,
    config_hash: str = "",
    image: str = "",
    prodlike: bool | None = None,
) -> bool:
    """Before `up -d` with these ``files`` and ``extra_env``: when it would re-create the running
    worker, say so in one line and stop it consumer-first. True when it was stopped.

    ``containers``: the worker's (or the project's) containers when just listed; ``config_hash`` and
    ``image``: the hash and image id when already asked (the no-op check of `worker.up`); the ones
    not given are asked here, at once. ``prodlike``: whether the `up` makes the prod-like worker.
    """
    from ..drivers import container_stop, job_fate, stack_facts, worker_service

    s = compose.settings
    listing = compose.containers(s.service) if containers is None else containers
    if not any(ct.service == s.service and ct.running for ct in listing):
        return False
    if not config_hash or not image:
        with ThreadPoolExecutor(max_workers=2) as pool:
            hashes = None
            if not config_hash:
                hashes = pool.submit(
                    stack_facts.config_hashes, compose, [s.service], [s.profile], extra_env or {}, files
                )
            ids = None if image else pool.submit(image_id, compose, worker_service.worker_image(compose))
            config_hash = hashes.result().get(s.service, "") if hashes else config_hash
            image = ids.result() if ids else image
    reason = recreate.why_recreated(s.service, listing, config_hash=config_hash, image_id=image, prodlike=prodlike)
    if reason is None:
        return False
    print(recreate.line(s.service, reason), flush=True)
    with job_fate.around_stop(compose, print):  # one line: its jobs in flight finished, or cut (ids)
        container_stop.stop_worker(compose, fail=f"stopping the {s.service} service before it is re-created")
    return True
