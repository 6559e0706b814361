"""What `docker info` says about the engine (pure parsing)."""

from __future__ import annotations

import json
from dataclasses import dataclass


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
