"""Facts about the Docker engine and containers that Compose does not report."""
from __future__ import annotations

import json
from dataclasses import dataclass

from tasks import runner
from tasks.failures import Failure, UserError, classify, explain


@dataclass(frozen=True)
class EngineInfo:
    version: str
    cpus: int
    memory_bytes: int


def parse_info(text: str) -> EngineInfo | None:
    """``docker info --format '{{json .}}'`` output, or None if it is not an engine's answer."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("ServerVersion"):
        return None
    return EngineInfo(str(data["ServerVersion"]), int(data.get("NCPU") or 0), int(data.get("MemTotal") or 0))


def query() -> tuple[EngineInfo | None, Failure, str]:
    """Ask the engine once: its facts, or why it cannot be reached (and the text that said so)."""
    result = runner.run(["docker", "info", "--format", "{{json .}}"], capture=True)
    parsed = parse_info(result.stdout) if result.ok else None
    # With the daemon down `docker info --format` may still exit 0: the answer's text decides.
    text = result.stdout + result.stderr
    if parsed is not None:
        return parsed, Failure.UNKNOWN, text
    failure = classify(text)
    return None, Failure.DAEMON_DOWN if failure is Failure.UNKNOWN else failure, text


def info() -> EngineInfo:
    parsed, failure, text = query()
    if parsed is None:
        raise UserError(explain(failure, text))
    return parsed


def inspect_limits(container: str) -> tuple[int, int]:
    """(NanoCpus, Memory bytes) the engine applied to a container; 0 means unlimited."""
    result = runner.run(
        ["docker", "inspect", "--format", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", container], capture=True
    )
    if not result.ok:
        raise UserError(f"docker inspect {container} failed: {explain(classify(result.stderr), result.stderr)}")
    nano, memory = result.stdout.split()
    return int(nano), int(memory)


def image_label(image: str, label: str) -> str | None:
    """A label of a local image ("" if unset), or None when the image is not there."""
    result = runner.run(["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image],
                        capture=True)
    return result.stdout.strip() if result.ok else None
