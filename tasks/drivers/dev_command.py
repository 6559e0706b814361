"""What `inv doctor` says about a worker's dev command and healthcheck (reads package.json; the
judgement is in tasks/knowledge/watchers.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..knowledge import watchers

if TYPE_CHECKING:
    from ..knowledge.settings import Settings


def package_scripts(s: Settings) -> dict[str, str]:
    """The `scripts` of package.json where the dev command runs and of the app folder, the app's winning:
    a workspace member's dev command runs at the root but filtered to the member (`pnpm --filter <pkg>
    dev`), so its `dev` is the member's, not the root's."""
    scripts: dict[str, str] = {}
    for folder in dict.fromkeys([s.run_dir, s.app_dir]):
        try:
            data = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found = data.get("scripts") if isinstance(data, dict) else None
        if isinstance(found, dict):
            scripts.update({str(k): str(v) for k, v in found.items()})
    return scripts


def advice(s: Settings) -> list[str]:
    """One line per trap in the dev command (tsx watch, nodemon, a compiler in watch mode), with the fix."""
    return [finding.line(s.app_dev) for finding in watchers.detect(s.app_dev, package_scripts(s))]


def healthcheck_advice(config: dict[str, Any], service: str, engine_version: str) -> str:
    """Advice when the worker's healthcheck interval makes restores wait ("" when fine)."""
    raw = (config.get("services") or {}).get(service) or {}
    return watchers.healthcheck_advice(service, raw.get("healthcheck"), engine_version)
