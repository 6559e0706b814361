"""Is the lock file in step with the package.json files? (pure; offline, no package manager run)

`npm ci` and `pnpm install --frozen-lockfile` refuse a lock file whose recorded dependency ranges
differ from package.json's. `npm ci --dry-run --offline` does not tell that cleanly (here it fails
with ENOTCACHED for a dependency missing from the cache, whatever the lock says), so the lock's own
record is compared: package-lock.json's `packages[""]` / `packages["<workspace dir>"]` dependency
maps, pnpm-lock.yaml's `importers[<dir>]` specifiers, against each folder's package.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

KINDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


def _declared(manifest: dict[str, Any], kinds: tuple[str, ...] = KINDS) -> dict[str, str]:
    found: dict[str, str] = {}
    for kind in kinds:
        if isinstance(manifest.get(kind), dict):
            found.update({str(k): str(v) for k, v in manifest[kind].items()})
    return found


def _difference(where: str, wanted: dict[str, str], locked: dict[str, str]) -> list[str]:
    problems = []
    for name, spec in sorted(wanted.items()):
        if name not in locked:
            problems.append(f"{where}: {name}@{spec} is not in the lock file")
        elif locked[name] != spec:
            problems.append(f"{where}: {name}@{spec}, the lock file has {locked[name]}")
    problems += [f"{where}: the lock file still has {name}" for name in sorted(set(locked) - set(wanted))]
    return problems


def _compare(
    manifests: dict[str, str],
    entry_for: Callable[[str], object],
    locked_of: Callable[[dict[str, Any]], dict[str, str]],
    *,
    unrecorded_kinds: tuple[str, ...],
) -> list[str]:
    """Each folder's package.json against its entry in the lock file (``entry_for(folder)``, read by
    ``locked_of``); a folder with no entry is a problem when it declares any of ``unrecorded_kinds``."""
    problems: list[str] = []
    for folder, text in sorted(manifests.items()):
        try:
            manifest = json.loads(text)
        except ValueError:
            problems.append(f"{folder or '.'}/package.json is not valid JSON")
            continue
        entry = entry_for(folder)
        where = f"{folder}/package.json" if folder else "package.json"
        if not isinstance(entry, dict):
            if _declared(manifest, unrecorded_kinds):
                problems.append(f"{where}: not recorded in the lock file")
            continue
        problems += _difference(where, _declared(manifest, KINDS[:3]), locked_of(entry))
    return problems


def npm_mismatches(lock_text: str, manifests: dict[str, str]) -> list[str]:
    """``manifests``: folder relative to the lock file's ("" for its own) -> package.json text."""
    try:
        lock = json.loads(lock_text)
    except ValueError:
        return ["package-lock.json is not valid JSON"]
    packages = lock.get("packages") if isinstance(lock, dict) else None
    if not isinstance(packages, dict):
        return []  # lockfileVersion 1: no per-folder record to compare
    # peerDependencies are recorded too, but npm adds them itself: compare the three others.
    return _compare(manifests, packages.get, lambda entry: _declared(entry, KINDS[:3]), unrecorded_kinds=KINDS)


def pnpm_mismatches(lock_text: str, manifests: dict[str, str]) -> list[str]:
    import yaml

    try:
        lock = yaml.safe_load(lock_text) or {}
    except yaml.YAMLError:
        return ["pnpm-lock.yaml is not valid YAML"]
    importers = lock.get("importers") if isinstance(lock, dict) else None
    if not isinstance(importers, dict):
        return []

    def specifiers(entry: dict[str, Any]) -> dict[str, str]:
        return {
            str(name): str(spec.get("specifier") if isinstance(spec, dict) else spec)
            for kind in KINDS[:3]
            for name, spec in (entry.get(kind) or {}).items()
        }

    return _compare(manifests, lambda folder: importers.get(folder or "."), specifiers, unrecorded_kinds=KINDS[:3])


def fix_command(manager: str) -> str:
    return {"npm": "npm install", "pnpm": "pnpm install"}.get(manager, f"{manager} install")
