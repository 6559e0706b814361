"""The generated configuration docs: up to date, and the JSON Schema accepting this repository's
invoke.yaml files while flagging a typo (checked with a small validator of the keywords it uses:
`jsonschema` is not a dependency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.knowledge import config_docs
from tasks.knowledge.settings import PROJECT_ROOT

SCHEMA_FILE = PROJECT_ROOT / "docs/invoke.schema.json"
DOC_FILE = PROJECT_ROOT / "docs/configuration.md"
STALE = "stale: run `python docs/generate.py` and commit the result"


def test_the_committed_schema_is_the_generated_one():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == config_docs.json_schema_text(), STALE


def test_the_committed_table_of_keys_is_the_generated_one():
    document = DOC_FILE.read_text(encoding="utf-8")
    assert config_docs.with_table(document) == document, STALE


def test_the_schema_is_referenced_from_the_docs_and_invoke_yaml():
    assert (
        (PROJECT_ROOT / "invoke.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=docs/invoke.schema.json\n")
    )
    assert (
        "invoke.schema.json" in DOC_FILE.read_text()
        and "docs/invoke.schema.json" in (PROJECT_ROOT / "README.md").read_text()
    )
    assert "docs/configuration.md" in (PROJECT_ROOT / "README.md").read_text()


_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "number": (int, float),
}


def _is(value: object, name: str) -> bool:
    if name in ("number", "string") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def problems(value: object, schema: dict[str, Any], root: dict[str, Any], where: str = "") -> list[str]:
    """Draft-07 keywords the generated schema uses: $ref, type, enum, anyOf, properties,
    additionalProperties, items."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return problems(value, target, root, where)
    found: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, t) for t in types):
            return [f"{where}: not {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: not one of {schema['enum']}")
    if "anyOf" in schema and all(problems(value, s, root, where) for s in schema["anyOf"]):
        found.append(f"{where}: matches none of anyOf")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                found += problems(item, properties[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{where}.{key}: additional property")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += problems(item, schema["additionalProperties"], root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += problems(item, schema["items"], root, f"{where}[{index}]")
    return found


SCHEMA = config_docs.json_schema()
CONFIGS = [
    PROJECT_ROOT / "invoke.yaml",
    PROJECT_ROOT / "tests/integration/fixtures/shop/invoke.yaml",
    PROJECT_ROOT / "tests/integration/fixtures/other-app/invoke.yaml",
]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(Path(p).relative_to(PROJECT_ROOT)))
def test_the_schema_accepts_this_repository_configurations(path):
    assert problems(yaml.safe_load(path.read_text()), SCHEMA, SCHEMA) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("app:\n  strat_gate: true\n", ".app.strat_gate: additional property"),
        ("app:\n  start_gate: yes please\n", ".app.start_gate: not boolean"),
        ("workers:\n  - name: a\n    bild: x\n", ".workers[0].bild: additional property"),
        (
            "workers:\n  - name: a\n    build_mode: docker\n",
            ".workers[0].build_mode: not one of ['', 'host', 'image', 'none']",
        ),
        ("compose:\n  files: [a.yml, {b: 1}]\n", ".compose.files: matches none of anyOf"),
        ("app:\n  dev_env:\n    NODE_ENV: [a]\n", ".app.dev_env.NODE_ENV: not ['string', 'number', 'boolean']"),
    ],
)
def test_the_schema_flags_a_typo_or_a_wrong_type(text, problem):
    assert problems(yaml.safe_load(text), SCHEMA, SCHEMA) == [problem]


def test_the_schema_leaves_invoke_own_sections_open():
    config = {"run": {"echo": True}, "tasks": {"dedupe": False}, "compose": {"files": ["a.yml", "b.yml"]}}
    assert problems(config, SCHEMA, SCHEMA) == []
    assert json.loads(SCHEMA_FILE.read_text())["properties"]["app"]["additionalProperties"] is False
