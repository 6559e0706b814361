"""Will `docker compose up -d <worker>` re-create the running worker container? (pure)

Compose re-creates a running container when the hash of the service's configuration it computes now
(`docker compose config --hash <service>`, with the files, profiles and variables of that `up`)
differs from the container's `com.docker.compose.config-hash` label, or when the image the service's
tag names now is not the one the container runs (`com.docker.compose.image`). It then stops the old
container by itself: SIGTERM to PID 1 only, which never reaches a consumer below `npm run dev` or a
`node:cluster` primary. Knowing it beforehand lets the tasks stop the worker consumer-first
(`tasks.drivers.container_stop`) and leave Compose only a stopped container to replace.

What cannot be told (Compose gave no hash, Docker no image id) is not taken as a re-creation: the
worker is then left to Compose, as before this check existed.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..knowledge.compose_cli import ContainerState
from ..knowledge.prodlike_labels import is_prodlike
from ..knowledge.up_noop import CONFIG_HASH_LABEL, IMAGE_LABEL

#: What the image id is when the tag names no image: `up` builds or pulls one, a new id.
MISSING_IMAGE = "missing"


def why_recreated(
    service: str,
    containers: Sequence[ContainerState],
    *,
    config_hash: str,
    image_id: str,
    prodlike: bool | None = None,
) -> str | None:
    """Why `up -d` re-creates a running container of ``service`` (None: none runs, none would be
    re-created, or it cannot be told).

    ``config_hash``: Compose's `config --hash` of the service for that `up` ("" unknown);
    ``image_id``: the id the service's image tag names now ("" unknown, `MISSING_IMAGE` when there is
    none); ``prodlike``: whether that `up` makes the prod-like worker (None: not said), which only
    words the reason.
    """
    running = [ct for ct in containers if ct.service == service and ct.running]
    if not running or not config_hash:
        return None
    if any(ct.labels.get(CONFIG_HASH_LABEL) != config_hash for ct in running):
        was = any(is_prodlike(ct.labels) for ct in running)
        if prodlike is True and not was:
            return "it becomes the prod-like worker"
        if prodlike is False and was:
            return "it goes back to the normal worker"
        return "its configuration changed"
    if image_id == MISSING_IMAGE:
        return "its image is to be built or pulled"
    if image_id and any(ct.labels.get(IMAGE_LABEL) != image_id for ct in running):
        return "its image changed"
    return None


def line(service: str, reason: str) -> str:
    """What is said before the stop."""
    return f"{service}: {reason}: stopping it (its consumers first) before Compose re-creates it"
