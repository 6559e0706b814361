"""Facts about the Docker engine and containers that Compose does not report."""

from __future__ import annotations

import json
from typing import Any

from ..drivers.gateway import Gateway
from ..knowledge.engine_info import EngineInfo, parse_info
from ..knowledge.failures import Failure, UserError, classify, explain


def query(gateway: Gateway) -> tuple[EngineInfo | None, Failure, str]:
    """Ask the engine once: its facts, or why it cannot be reached (and the text that said so)."""
    result = gateway.docker("info", "--format", "{{json .}}")
    parsed = parse_info(result.stdout) if result.ok else None
    # With the daemon down `docker info --format` may still exit 0: the answer's text decides.
    text = result.stdout + result.stderr
    if parsed is not None:
        return parsed, Failure.UNKNOWN, text
    failure = classify(text)
    return None, Failure.DAEMON_DOWN if failure is Failure.UNKNOWN else failure, text


def info(gateway: Gateway) -> EngineInfo:
    parsed, failure, text = query(gateway)
    if parsed is None:
        raise UserError(explain(failure, text))
    return parsed


def inspect_limits(gateway: Gateway, container: str) -> tuple[int, int]:
    """(NanoCpus, Memory bytes) the engine applied to a container; 0 means unlimited."""
    host = inspect(gateway, container)["HostConfig"]
    return int(host.get("NanoCpus") or 0), int(host.get("Memory") or 0)


def _label_template(label: str) -> str:
    """One label of an image, "" when unset: an image without labels has `Labels: null`, on which a
    bare `index` fails ("index of untyped nil") as if the image were missing, and a label missing
    from the map prints `<no value>`."""
    return f'{{{{with .Config.Labels}}}}{{{{with index . "{label}"}}}}{{{{.}}}}{{{{end}}}}{{{{end}}}}'


def image_label(gateway: Gateway, image: str, label: str) -> str | None:
    """A label of a local image ("" if unset), or None when the image is not there."""
    result = gateway.docker("image", "inspect", "--format", _label_template(label), image)
    return result.stdout.strip() if result.ok else None


def image_id_and_label(gateway: Gateway, image: str, label: str) -> tuple[str, str] | None:
    """A local image's id and one of its labels ("" if unset), or None when the image is not there."""
    result = gateway.docker("image", "inspect", "--format", "{{.Id}} " + _label_template(label), image)
    if not result.ok:
        return None
    image_id, _, value = result.stdout.strip().partition(" ")
    return image_id, value.strip()


def inspect(gateway: Gateway, container: str) -> dict[str, Any]:
    """`docker inspect` of one container (labels, caps, State.OOMKilled, RestartCount, ...)."""
    result = gateway.docker("inspect", container)
    if not result.ok:
        raise UserError(f"docker inspect {container} failed: {explain(classify(result.stderr), result.stderr)}")
    details: list[dict[str, Any]] = json.loads(result.stdout)
    return details[0]
