"""Facts about the Docker engine and containers that Compose does not report."""
from __future__ import annotations

import json
import re
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


def info() -> EngineInfo:
    result = runner.run(["docker", "info", "--format", "{{json .}}"], capture=True)
    parsed = parse_info(result.stdout) if result.ok else None
    if parsed is None:
        failure = classify(result.stdout + result.stderr)
        raise UserError(explain(Failure.DAEMON_DOWN if failure is Failure.UNKNOWN else failure, result.stderr))
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


def image_created(image: str) -> float | None:
    """When a local image was built (epoch seconds), or None if it is not there."""
    result = runner.run(["docker", "image", "inspect", "--format", "{{.Created}}", image], capture=True)
    if not result.ok:
        return None
    return parse_created(result.stdout.strip())


def parse_created(text: str) -> float | None:
    """Docker's RFC 3339 timestamps carry nanoseconds, which datetime cannot parse: trim to micro."""
    from datetime import datetime

    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        return None
    fraction = (match.group(2) or ".0")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + fraction + zone).timestamp()
