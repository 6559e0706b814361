"""Compose durations (`30s`, `1m30s`, `500ms`, `1h`), as `stop_grace_period` takes them (pure)."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def parse_duration(text: str | None, default: float) -> float:
    """Seconds of a Go-style duration; ``default`` when empty or not a duration (a bare number has
    no unit: Compose refuses it, and so does the shipped dev runner, tasks/runner/devrun.mjs)."""
    value = (text or "").strip()
    if not value:
        return default
    parts = _PART.findall(value)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != value:
        return default
    return sum(float(n) * _SECONDS[u] for n, u in parts)


def duration_seconds(text: str) -> float | None:
    """Seconds of a Go-style duration (`60s`, `1m30s`), or None when ``text`` is not one."""
    value = text.strip()
    parts = _PART.findall(value)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != value:
        return None
    return sum(float(n) * _SECONDS[u] for n, u in parts)
