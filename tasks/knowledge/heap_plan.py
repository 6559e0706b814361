"""Sizes and the V8 heap plan for the production-like worker (pure logic).

V8's ``heap_size_limit`` is old space plus three semi-spaces (Node 20: ``--max-old-space-size=11264
--max-semi-space-size=64`` gives 11456 MiB, 86.1 % of 13 GiB), so the plan sizes old space such that
the whole limit stays within the ratio of the container's memory, divided among the Node processes
of the container, while leaving room for native memory and overhead in small containers
(512 MiB -> 384 MiB old space: heap 384 + native ~100 + overhead ~28).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MIB = 1024 * 1024

#: Compose's byte units, binary (Docker treats every unit as a power of 1024).
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "m": MIB,
    "mib": MIB,
    "g": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")

NATIVE_RESERVE_MIB = 100  # per Node process: code, buffers, native allocations outside the V8 heap
OVERHEAD_RESERVE_MIB = 28  # per container: init, libc, page cache headroom
SMALL_SEMI_SPACE_MIB = 16  # V8's default on 64-bit
LARGE_SEMI_SPACE_MIB = 64  # seed 000's value for large heaps: fewer scavenges
LARGE_HEAP_FROM_MIB = 4096
MIN_OLD_SPACE_MIB = 64


class PlanError(ValueError):
    """Input that cannot be planned; its message is one line for the user."""


def parse_size(text: str) -> int:
    """Bytes of a Compose-style size: ``13g``, ``512m``, ``12.977GiB``, ``1073741824``.

    ``13gb``/``13mb`` are refused: they read as decimal units, but Docker would take them as binary.
    """
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        hint = ""
        if match and unit in {"kb", "mb", "gb", "tb"}:
            hint = f" (`{unit}` is ambiguous: write {match.group(1)}{unit[0]} for binary units, as Docker means)"
        raise PlanError(
            f"bad size {text!r}: use bytes or a number with k, m, g (binary), e.g. 13g, 512m, 12.977GiB{hint}"
        )
    amount = float(match.group(1))
    value = amount * _UNITS[unit]
    if unit in ("", "b") and not amount.is_integer():
        raise PlanError(f"bad size {text!r}: bytes must be a whole number")
    if value <= 0:
        raise PlanError(f"bad size {text!r}: must be more than zero")
    return int(value)


def format_mib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def parse_cpus(text: str | float) -> float:
    try:
        cpus = float(text)
    except (TypeError, ValueError):
        raise PlanError(f"bad CPU count {text!r}: use a number such as 1, 1.5 or 3") from None
    if not math.isfinite(cpus) or cpus <= 0:
        raise PlanError(f"bad CPU count {text!r}: must be more than zero")
    return cpus


@dataclass(frozen=True)
class HeapPlan:
    memory_bytes: int
    cpus: float
    ratio: float
    processes: int
    old_space_mib: int
    semi_space_mib: int
    explicit: bool = False  # old space given by --heap-mb rather than computed

    @property
    def memory_mib(self) -> float:
        return self.memory_bytes / MIB

    @property
    def heap_limit_mib(self) -> int:
        """What V8 reports as heap_size_limit for each process."""
        return self.old_space_mib + 3 * self.semi_space_mib

    @property
    def heap_share(self) -> float:
        """All processes' heap limits as a share of the container's memory."""
        return self.heap_limit_mib * self.processes / self.memory_mib

    @property
    def within_ratio(self) -> bool:
        return self.heap_share <= self.ratio + 1e-9

    @property
    def node_options(self) -> str:
        return f"--max-old-space-size={self.old_space_mib} --max-semi-space-size={self.semi_space_mib}"

    @property
    def memory_compose(self) -> str:
        """The memory cap as Compose takes it (whole bytes: exact, whatever unit was typed)."""
        return str(self.memory_bytes)

    def warnings(self) -> list[str]:
        if self.within_ratio:
            return []
        return [
            f"heap limit {self.heap_limit_mib} MiB x {self.processes} process(es) is "
            f"{self.heap_share:.1%} of {format_mib(self.memory_mib)}, above the {self.ratio:.0%} ratio: "
            "the worker's start-up check will warn and the container may be OOM-killed"
        ]


def plan_heap(
    memory_bytes: int,
    *,
    cpus: float = 3.0,
    ratio: float = 0.85,
    processes: int = 1,
    semi_space_mib: int | None = None,
    heap_mb: int | None = None,
) -> HeapPlan:
    """Largest old space that keeps heap_size_limit x processes within ``ratio`` of memory and
    leaves the native/overhead reserve, or the explicit ``heap_mb`` (then only checked)."""
    if not 0 < ratio <= 1:
        raise PlanError(f"bad heap ratio {ratio!r}: use a fraction such as 0.75 or 0.85")
    if processes < 1:
        raise PlanError(f"bad process count {processes!r}: at least 1")
    memory_mib = memory_bytes / MIB
    if semi_space_mib is None:
        semi_space_mib = LARGE_SEMI_SPACE_MIB if memory_mib / processes >= LARGE_HEAP_FROM_MIB else SMALL_SEMI_SPACE_MIB
    if heap_mb is not None:
        if heap_mb < 1:
            raise PlanError(f"bad heap size {heap_mb!r} MiB: at least 1")
        return HeapPlan(memory_bytes, cpus, ratio, processes, int(heap_mb), semi_space_mib, explicit=True)
    by_ratio = ratio * memory_mib / processes - 3 * semi_space_mib
    by_reserve = (memory_mib - OVERHEAD_RESERVE_MIB) / processes - NATIVE_RESERVE_MIB
    old_space = math.floor(min(by_ratio, by_reserve))
    if old_space < MIN_OLD_SPACE_MIB:
        raise PlanError(
            f"{format_mib(memory_mib)} is too little memory for {processes} Node process(es): each needs "
            f"at least {MIN_OLD_SPACE_MIB + NATIVE_RESERVE_MIB + 3 * semi_space_mib} MiB; raise --memory"
        )
    return HeapPlan(memory_bytes, cpus, ratio, processes, old_space, semi_space_mib)
