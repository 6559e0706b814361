"""CPU and memory quantities as each production format defines them (pure: text in, number out).

Each function takes the value as written in its format (a YAML/JSON scalar: a string or a number)
and returns CPUs (a float) or bytes (an int); anything else raises `QuantityError`, one line naming
the value and the form expected. Hand-written on purpose: the one library that parses Kubernetes
quantities is the official `kubernetes` client (tens of MB of generated API code) and nothing kept
and small covers ECS or Cloud Foundry units; each rule below is a line of its format's reference.

- Kubernetes (`resources.limits` / `requests`): CPU in cores or millicores (`500m`, `0.5`, `2`);
  memory in bytes with decimal (`k`, `M`, `G`, `T`, `P`, `E`: powers of 1000) or binary (`Ki`, `Mi`,
  `Gi`, `Ti`, `Pi`, `Ei`: powers of 1024) suffixes, or an exponent (`129e6`). `1G` is 10^9 bytes,
  `1Gi` 2^30: both legal, not the same.
- Compose (`deploy.resources.limits`, `cpus`, `mem_limit`): CPUs as a number (`"0.5"`); sizes as
  Docker reads them, every unit binary (`512m`, `2g`; `tasks.knowledge.heap_plan.parse_size`).
- ECS task definitions: CPU in units, 1024 per vCPU (container-level an integer; task-level also
  `"1 vCPU"`); memory in MiB (container-level an integer; task-level also `"2 GB"`, 1 GB = 1024 MiB).
- Cloud Foundry manifests (`memory`, `disk_quota`): a number with `M`/`MB` or `G`/`GB` (or `T`/`TB`,
  `K`/`KB`), any case, all binary: `2G` is 2048 MiB, as the cf CLI reads it.
"""

from __future__ import annotations

import math
import re

from ..knowledge.heap_plan import MIB, PlanError, parse_size


class QuantityError(PlanError):
    """A value its format does not define; the message is one line for the user."""


def _text(value: object) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise QuantityError(f"bad quantity {value!r}: expected a number or a string")
    return str(value).strip()


_K8S_CPU = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(m?)$")
_K8S_MEMORY = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?)$")
_K8S_UNITS = {
    None: 1,
    "m": 1e-3,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "P": 1000**5,
    "E": 1000**6,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
    "Ei": 1024**6,
}


def _positive(number: float, value: object, what: str) -> float:
    if not math.isfinite(number) or number <= 0:
        raise QuantityError(f"bad {what} {value!r}: must be more than zero")
    return number


def k8s_cpu(value: object) -> float:
    """A Kubernetes CPU quantity in CPUs: ``500m`` -> 0.5, ``2`` -> 2.0, ``0.25`` -> 0.25."""
    text = _text(value)
    match = _K8S_CPU.match(text)
    if not match:
        raise QuantityError(f"bad Kubernetes CPU quantity {value!r}: use cores (1, 0.5) or millicores (500m)")
    number = float(match.group(1)) / (1000 if match.group(2) else 1)
    return _positive(number, value, "Kubernetes CPU quantity")


def k8s_memory(value: object) -> int:
    """A Kubernetes memory quantity in bytes: ``1Gi`` -> 2^30, ``1G`` -> 10^9, ``512Mi``, ``129e6``."""
    text = _text(value)
    match = _K8S_MEMORY.match(text)
    if not match:
        hint = (
            " (`Gb`/`MB`... are not Kubernetes units: Gi, Mi for binary, G, M for decimal)"
            if re.search(r"[bB]$", text)
            else ""
        )
        raise QuantityError(
            f"bad Kubernetes memory quantity {value!r}: use bytes or a suffix Ki, Mi, Gi (binary) or k, M, G "
            f"(decimal), e.g. 512Mi, 1Gi, 1G{hint}"
        )
    number = float(match.group(1))
    if match.group(2):
        number *= 10 ** int(match.group(2)[1:])
    else:
        number *= _K8S_UNITS[match.group(3)]
    return int(_positive(math.ceil(number), value, "Kubernetes memory quantity"))


def compose_cpus(value: object) -> float:
    """Compose's `cpus` (``deploy.resources.limits.cpus`` or the short form): a number of CPUs."""
    text = _text(value)
    try:
        number = float(text)
    except ValueError:
        raise QuantityError(f"bad Compose cpus {value!r}: a number of CPUs such as 0.5 or 2") from None
    return _positive(number, value, "Compose cpus")


def compose_memory(value: object) -> int:
    """A Compose size in bytes, as Docker reads it (every unit binary; ``13gb`` refused as ambiguous)."""
    try:
        return parse_size(_text(value))
    except QuantityError:
        raise
    except PlanError as error:
        raise QuantityError(str(error)) from None


_ECS_VCPU = re.compile(r"^(\d+(?:\.\d+)?)\s*vcpu$", re.IGNORECASE)
_ECS_GB = re.compile(r"^(\d+(?:\.\d+)?)\s*gb$", re.IGNORECASE)


def ecs_cpu(value: object) -> float:
    """ECS CPU units in CPUs (1024 units per vCPU): ``512`` -> 0.5; task-level ``"1 vCPU"`` -> 1.0."""
    text = _text(value)
    vcpu = _ECS_VCPU.match(text)
    if vcpu:
        return _positive(float(vcpu.group(1)), value, "ECS cpu")
    if not text.isdigit():
        raise QuantityError(f"bad ECS cpu {value!r}: CPU units (1024 per vCPU, e.g. 512) or a string like '1 vCPU'")
    return _positive(int(text) / 1024, value, "ECS cpu")


def ecs_memory(value: object) -> int:
    """ECS memory in bytes: MiB as an integer (``2048``); task-level also ``"2 GB"`` (1 GB = 1024 MiB)."""
    text = _text(value)
    gb = _ECS_GB.match(text)
    if gb:
        return int(_positive(float(gb.group(1)) * 1024 * MIB, value, "ECS memory"))
    if not text.isdigit():
        raise QuantityError(f"bad ECS memory {value!r}: MiB as a whole number (e.g. 2048) or a string like '2 GB'")
    return int(_positive(int(text) * MIB, value, "ECS memory"))


_CF = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT])B?$", re.IGNORECASE)
_CF_UNITS = {"K": 1024, "M": MIB, "G": 1024 * MIB, "T": 1024**2 * MIB}


def cf_memory(value: object) -> int:
    """A Cloud Foundry size in bytes: ``2G``, ``512M``, ``1024MB``, ``1GB`` (any case, binary units)."""
    text = _text(value)
    match = _CF.match(text)
    if not match:
        raise QuantityError(f"bad Cloud Foundry size {value!r}: a number with M, MB, G or GB (e.g. 512M, 2G)")
    return int(_positive(float(match.group(1)) * _CF_UNITS[match.group(2).upper()], value, "Cloud Foundry size"))


def whole_count(value: object, what: str) -> int:
    """A count (replicas, instances): a whole number, at least 0."""
    text = _text(value)
    if not text.isdigit():
        raise QuantityError(f"bad {what} {value!r}: a whole number")
    return int(text)
