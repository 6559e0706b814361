"""`inv adopt`: the keys it sets in invoke.yaml, merged into the user's file by small text edits (pure).

The user's own keys and comments stay as written: a key `adopt` sets is replaced on its own line
(a plain one-line value), inserted under its section, or appended as a new section. What cannot be
edited that way (a `workers:` list that lacks a proposed worker, a flow-style section) is refused
with the lines to write by hand, before anything is written. The result is parsed back and compared
with what was meant, so an edit that would not say the same to Invoke is refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..knowledge.failures import UserError

HEADER = (
    "# The Invoke configuration of the dev-stack tasks (see docs/adopting.md). `inv adopt` wrote the keys\n"
    "# below; edit freely: a second `inv adopt` keeps what you set and changes only what it owns.\n"
)


@dataclass(frozen=True)
class Wanted:
    """What adopt sets: the compose files (the user's, then ours), the prod-like overlay, the workers."""

    compose_files: str
    prodlike_file: str
    workers: list[dict[str, Any]]
    #: `compose.env_file` to set: the .env Compose reads today when `-f` would make it read another
    env_file: str | None = None


def _load(text: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0]
        raise UserError(f"invoke.yaml is not valid YAML ({first}): fix it, then run adopt again") from None
    if not isinstance(data, dict):
        raise UserError("invoke.yaml does not hold a mapping of settings: fix it, then run adopt again")
    return data


def _scalar(value: str) -> str:
    import yaml

    return str(yaml.safe_dump(value, default_style=None, width=10_000)).removesuffix("\n...\n").strip()


def _section_span(lines: list[str], section: str) -> tuple[int, int] | None:
    """(index of the `section:` line, index after its indented block), for a top-level block section."""
    for index, line in enumerate(lines):
        if re.match(rf"^{re.escape(section)}\s*:\s*(#.*)?$", line):
            end = index + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
                end += 1
            while end > index + 1 and not lines[end - 1].strip():
                end -= 1
            return index, end
    return None


def set_key(text: str, section: str, key: str, value: str) -> str:
    """``section.key: value`` in a YAML text, keeping every other line as it is."""
    lines = text.splitlines()
    span = _section_span(lines, section)
    if span is None:
        if any(re.match(rf"^{re.escape(section)}\s*:", line) for line in lines):
            raise UserError(
                f"invoke.yaml's `{section}:` is not a block mapping adopt can edit: set `{section}.{key}: "
                f"{_scalar(value)}` by hand"
            )
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}{section}:\n  {key}: {_scalar(value)}\n"
    start, end = span
    keys = [line for line in lines[start + 1 : end] if line.strip() and not line.lstrip().startswith("#")]
    indent = keys[0][: len(keys[0]) - len(keys[0].lstrip())] if keys else "  "
    for index in range(start + 1, end):
        # only the section's own keys (its first indentation), not a nested mapping's
        found = re.match(rf"^{indent}{re.escape(key)}\s*:\s*(.*?)(\s+#.*)?$", lines[index])
        if found:
            lines[index] = f"{indent}{key}: {_scalar(value)}{found.group(2) or ''}"
            break
    else:
        lines.insert(start + 1, f"{indent}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def _render_workers(workers: list[dict[str, Any]]) -> str:
    import yaml

    return str(yaml.safe_dump({"workers": workers}, sort_keys=False, default_flow_style=False, width=200))


def _matches(existing: object, entry: dict[str, Any]) -> bool:
    if not isinstance(existing, dict):
        return False
    return entry["name"] in (existing.get("name"), existing.get("service"))


def merge(text: str | None, wanted: Wanted) -> tuple[str, list[str]]:
    """The new invoke.yaml text and one note per decision (kept a user's value, added a key...)."""
    notes: list[str] = []
    if text is None:
        body = set_key("", "compose", "files", wanted.compose_files)
        if wanted.env_file is not None:
            body = set_key(body, "compose", "env_file", wanted.env_file)
        body = set_key(body, "prodlike", "file", wanted.prodlike_file)
        result = HEADER + body + _render_workers(wanted.workers)
        _check(result, wanted)
        return result, ["invoke.yaml: new"]
    data = _load(text)
    result = text
    compose = data.get("compose") if isinstance(data.get("compose"), dict) else {}
    if str((compose or {}).get("files") or "") != wanted.compose_files:
        result = set_key(result, "compose", "files", wanted.compose_files)
        notes.append(f"invoke.yaml: compose.files set to {wanted.compose_files!r}")
    if wanted.env_file is not None and str((compose or {}).get("env_file") or "") != wanted.env_file:
        result = set_key(result, "compose", "env_file", wanted.env_file)
        notes.append(
            f"invoke.yaml: compose.env_file set to {wanted.env_file!r} (the .env Compose reads now; with the files "
            "listed by `-f` it would read the first file's folder's)"
        )
    prodlike = data.get("prodlike") if isinstance(data.get("prodlike"), dict) else {}
    if str((prodlike or {}).get("file") or "") != wanted.prodlike_file:
        result = set_key(result, "prodlike", "file", wanted.prodlike_file)
        notes.append(f"invoke.yaml: prodlike.file set to {wanted.prodlike_file!r}")
    existing = data.get("workers")
    if existing:
        if not isinstance(existing, list):
            raise UserError("invoke.yaml's `workers` is not a list: fix it, then run adopt again")
        missing = [w for w in wanted.workers if not any(_matches(e, w) for e in existing)]
        if missing:
            entries = entries_text(missing)
            names = ", ".join(w["name"] for w in missing)
            raise UserError(
                f"invoke.yaml already lists workers and lacks {names}: add under `workers:` {entries} "
                "(nothing was written)"
            )
        if existing != wanted.workers:
            notes.append("invoke.yaml: the `workers:` entries kept as you wrote them")
        for worker in wanted.workers:
            mine: dict[str, Any] = next((e for e in existing if _matches(e, worker)), {})
            if worker.get("caps_from") and not mine.get("caps_from"):
                notes.append(
                    f"invoke.yaml: add `caps_from: {worker['caps_from']}` to the {worker['name']} entry of `workers:` "
                    "to plan prod-like caps with production's numbers (adopt keeps your entries as written)"
                )
    elif isinstance(data.get("worker"), dict) and len(wanted.workers) == 1:
        if data["worker"].get("service") not in (None, wanted.workers[0]["name"]):
            raise UserError(
                f"invoke.yaml's worker.service is {data['worker'].get('service')!r}, the compose files' worker is "
                f"{wanted.workers[0]['name']!r}: fix worker.service or name it with `--worker` (nothing was written)"
            )
        notes.append("invoke.yaml: the `worker:` section kept (one worker)")
        found = wanted.workers[0].get("caps_from")
        if found and not str((prodlike or {}).get("caps_from") or ""):
            result = set_key(result, "prodlike", "caps_from", found)
            notes.append(f"invoke.yaml: prodlike.caps_from set to {found!r} (production's numbers for the worker)")
    elif isinstance(data.get("worker"), dict):
        raise UserError(
            "invoke.yaml describes one worker (`worker:`), the compose files have "
            f"{', '.join(w['name'] for w in wanted.workers)}: replace the `worker:` and `app:` sections by a "
            "`workers:` list (docs/adopting.md) or pick one with `--worker NAME` (nothing was written)"
        )
    else:
        tail = "" if not result or result.endswith("\n") else "\n"
        result = result + tail + _render_workers(wanted.workers)
        notes.append(f"invoke.yaml: workers {', '.join(w['name'] for w in wanted.workers)} added")
    _check(result, wanted, keep_workers=bool(existing) or isinstance(data.get("worker"), dict))
    return result, notes


def entries_text(workers: list[dict[str, Any]]) -> str:
    """Entries of a `workers:` list on one line (`- name: email / profile: workers / ...`), for advice."""
    return " / ".join(line.strip() for line in _render_workers(workers).splitlines()[1:])


def listed_workers(text: str | None) -> list[str]:
    """The services invoke.yaml's `workers:` list names (an entry's `service`, else its `name`); [] when
    it has no such list (or does not parse: merge says so)."""
    try:
        data = _load(text or "")
    except UserError:
        return []
    entries = data.get("workers")
    if not isinstance(entries, list):
        return []
    return [str(e.get("service") or e.get("name")) for e in entries if isinstance(e, dict) and e.get("name")]


def _check(text: str, wanted: Wanted, *, keep_workers: bool = False) -> None:
    """The merged text must say to Invoke exactly what was meant."""
    data = _load(text)
    ok = (
        str((data.get("compose") or {}).get("files")) == wanted.compose_files
        and (wanted.env_file is None or str((data.get("compose") or {}).get("env_file")) == wanted.env_file)
        and str((data.get("prodlike") or {}).get("file")) == wanted.prodlike_file
        and (keep_workers or data.get("workers") == wanted.workers)
    )
    if not ok:
        raise UserError(
            "adopt could not merge its keys into invoke.yaml by itself: set "
            f"compose.files to {wanted.compose_files!r}, "
            + (f"compose.env_file to {wanted.env_file!r}, " if wanted.env_file is not None else "")
            + f"prodlike.file to {wanted.prodlike_file!r} and the `workers:` list by hand (nothing was written)"
        )
