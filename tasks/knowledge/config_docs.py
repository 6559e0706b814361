"""The configuration's documentation, generated from the declarations in ``defaults.py``.

Two renderings, both committed and checked by a unit test (``python docs/generate.py`` rewrites them):
the table of keys in docs/configuration.md (between two marker lines), and a JSON Schema of
invoke.yaml (docs/invoke.schema.json) with which an editor flags an unknown key or a wrong type.
Only the sections of ours are closed; Invoke's own (``run``, ``tasks``...) and anything else stay open.
"""

from __future__ import annotations

import json
from typing import Any

from ..knowledge.defaults import (
    BOOL,
    CHOICE,
    DURATION,
    FILES,
    LIST,
    MAPPING,
    PATH,
    PROJECT_KEYS,
    SECTIONS,
    WORKER_KEYS,
    Key,
)

BEGIN = "<!-- BEGIN generated keys: python docs/generate.py (from tasks/knowledge/defaults.py) -->"
END = "<!-- END generated keys -->"

_TYPES = {
    BOOL: "true/false",
    LIST: "list",
    FILES: "list",
    MAPPING: "mapping",
    PATH: "path",
    DURATION: "duration (`60s`, `2m`) / `never`",
}


def _default(key: Key) -> str:
    if isinstance(key.default, bool):
        return "`true`" if key.default else "`false`"
    if key.default == {}:
        return "`{}`"
    return f"`{key.default}`" if key.default != "" else '`""`'


def _type(key: Key) -> str:
    if key.kind == CHOICE:
        return " / ".join(f"`{c}`" for c in key.choices)
    return _TYPES.get(key.kind, "string")


def markdown_table() -> str:
    """The table of every key, by section, as docs/configuration.md shows it (markers included)."""
    lines = [BEGIN, "", "### Project keys", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k.path}` | {_type(k)} | {_default(k)} | {k.doc} |" for k in PROJECT_KEYS]
    lines += [
        "",
        "### Per-worker keys",
        "",
        "Keys of a `workers:` entry; with a single worker, the same keys in `worker:` and `app:`.",
        "",
        "| entry key | single-worker key | type | default | meaning |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{k.name}` | `{k.path}` | {_type(k)} | {_default(k)} | {k.doc} |" for k in WORKER_KEYS]
    lines += ["", END]
    return "\n".join(lines)


def with_table(document: str) -> str:
    """``document`` with its generated part (between the markers) replaced by the current table."""
    start, end = document.index(BEGIN), document.index(END) + len(END)
    return document[:start] + markdown_table() + document[end:]


def _property(key: Key) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": key.doc, "default": key.default}
    if key.kind == BOOL:
        schema["type"] = "boolean"
    elif key.kind in (LIST, FILES):
        schema["anyOf"] = [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    elif key.kind == MAPPING:
        schema["type"] = "object"
        schema["additionalProperties"] = {"type": ["string", "number", "boolean"]}
    elif key.kind == CHOICE:
        schema["enum"] = ["", *key.choices]
    elif key.kind == DURATION:
        schema["type"] = "string"
        schema["pattern"] = r"^(never|([0-9]+(\.[0-9]+)?(h|m|s|ms|us|ns))+)$"
    else:
        schema["type"] = "string"
    return schema


def _closed(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft-07, what editors' YAML plugins read best) of invoke.yaml."""
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for key in (*PROJECT_KEYS, *WORKER_KEYS):
        sections[key.section][key.name] = _property(key)
    entry = {k.name: _property(k) for k in WORKER_KEYS}
    properties: dict[str, Any] = {name: _closed(props) for name, props in sections.items()}
    properties["workers"] = {
        "description": "Several workers (then the worker keys of `worker:` and `app:` are not read).",
        "type": "array",
        "items": {"$ref": "#/definitions/worker"},
        "default": [],
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "invoke.yaml of the devstack tasks",
        "description": "Generated from tasks/knowledge/defaults.py by docs/generate.py: do not edit.",
        "type": "object",
        "properties": properties,
        "definitions": {"worker": _closed(entry, "One worker: its compose service and the app it runs.")},
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
