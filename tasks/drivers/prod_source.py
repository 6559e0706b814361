"""Production's definition of a worker, read from the repository (`prodlike.caps_from`) or found for `adopt`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..knowledge import prod_source
from ..knowledge.failures import UserError
from ..knowledge.prod_source import ProdCaps
from ..knowledge.settings import Settings, config_path

#: Folders never searched: installed dependencies, build output, VCS and caches, tests and their
#: fixtures (not production's); `.aws`, where ECS task definitions usually live, is the one dot folder read.
_SKIP = {
    "test",
    "tests",
    "__tests__",
    "fixtures",
    "node_modules",
    ".git",
    "dist",
    "build",
    ".devstack",
    ".venv",
    "venv",
    "__pycache__",
    ".pnpm-store",
    "coverage",
}
_DOT_FOLDERS = {".aws"}
#: A file worth parsing mentions one of these (most YAML/JSON of a repository does not).
_MARKERS = ("containerDefinitions", "resources", "applications:", "mem_limit", "memory")
MAX_BYTES = 1024 * 1024


def load(s: Settings) -> ProdCaps | None:
    """Production's caps for the current worker, or None when `prodlike.caps_from` is empty; an
    unreadable file or a figure its format does not define: one line (UserError)."""
    reference = s.current.caps_from.strip()
    if not reference:
        return None
    path_text, _ = prod_source.split_reference(reference)
    if not path_text:
        raise UserError(f"prodlike.caps_from {reference!r} names no file: use path#container")
    path = Path(config_path(path_text, s.root))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"prodlike.caps_from: {path_text} does not exist (from {reference!r})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"prodlike.caps_from: {path_text} cannot be read ({error})") from None
    documents = prod_source.load_documents(text, path_text)
    return prod_source.read_caps(documents, reference, s.service)


def find(root: Path, skip: set[str], depth: int = 4) -> list[tuple[str, list[Any]]]:
    """Files below ``root`` (posix paths relative to it, ``skip`` left out: the dev compose files, our
    overlays) that parse as a production definition, with their documents."""
    found: list[tuple[str, list[Any]]] = []
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        deeper = len(rel.parts) < depth
        dirs[:] = (
            sorted(d for d in dirs if d not in _SKIP and (not d.startswith(".") or d in _DOT_FOLDERS)) if deeper else []
        )
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml", ".json")) or name in ("package.json", "package-lock.json"):
                continue
            path = (rel / name).as_posix()
            if path in skip:
                continue
            full = Path(folder) / name
            try:
                if full.stat().st_size > MAX_BYTES:
                    continue
                text = full.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if not any(marker in text for marker in _MARKERS) or "${PRODLIKE_" in text:
                continue  # nothing to read, or a prod-like overlay (ours: its caps are the plan's, not production's)
            try:
                documents = prod_source.load_documents(text, path)
            except UserError:
                continue  # a template, or not ours to judge: adopt only proposes what it can read
            if prod_source.format_of(documents) is not None:
                found.append((path, documents))
    return found
