"""The `--json` documents: one envelope for every command, and the facts of each (pure).

Every document starts with ``schema_version`` (bumped only when a key is removed or changes meaning;
new keys may appear without a bump), ``command`` and ``ok`` (false exactly when the command exits
non-zero). A command that fails before it has its facts prints `error_document` instead. The keys
are documented in docs/json.md.
"""

from __future__ import annotations

import json
from typing import Any

from ..knowledge.colour import FAIL, OK, WARN, label, paint
from ..knowledge.envfile import EnvReport
from ..knowledge.heap_plan import HeapPlan
from ..knowledge.prod_verify import Row

SCHEMA_VERSION = 1

Doc = dict[str, Any]


def document(command: str, ok: bool, body: Doc) -> Doc:
    return {"schema_version": SCHEMA_VERSION, "command": command, "ok": ok, **body}


def error_document(command: str, message: str) -> Doc:
    """What stdout holds when the command stopped with an error (the same text as the `error:` line)."""
    return document(command, False, {"error": message})


def dumps(doc: Doc) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


# -- prodlike.plan / prodlike.verify -----------------------------------------------------------------
def plan_facts(plan: HeapPlan) -> Doc:
    return {
        "cpus": plan.cpus,
        "memory_bytes": plan.memory_bytes,
        "processes": plan.processes,
        "node_options": plan.node_options,
        "old_space_mib": plan.old_space_mib,
        "semi_space_mib": plan.semi_space_mib,
        "heap_limit_mib": plan.heap_limit_mib,
        "heap_share": round(plan.heap_share, 6),
        "heap_ratio": plan.ratio,
        "within_ratio": plan.within_ratio,
        "explicit_heap": plan.explicit,
        "node_env": "production",
    }


def verify_facts(mode: str, source: str, source_text: str, plan: HeapPlan, table: list[Row]) -> Doc:
    """``mode``: the container's (``prodlike``/``normal``); ``source``: ``flags``, ``labels`` or ``env``."""
    return {
        "mode": mode,
        "plan_source": source,
        "plan_source_text": source_text,
        "plan": plan_facts(plan),
        "checks": [
            {"check": r.item, "planned": r.planned, "actual": r.actual, "ok": r.ok, "status": r.status} for r in table
        ],
    }


# -- env.check --------------------------------------------------------------------------------------
def env_check_facts(
    env_file: str, example_file: str, keys: int, report: EnvReport, warnings: list[str], notes: list[str]
) -> Doc:
    return {
        "env_file": env_file,
        "example_file": example_file,
        "keys": keys,
        "missing": list(report.missing),
        "unknown": list(report.unknown),
        "malformed_lines": list(report.malformed),
        "warnings": list(warnings),
        "notes": list(notes),
    }


def env_check_lines(facts: Doc, *, colour: bool = False) -> list[str]:
    """The text form of `env_check_facts`: one line per finding (the verdict line is the caller's)."""
    env_file, example = facts["env_file"], facts["example_file"]

    def bad(text: str) -> str:
        return paint(text, FAIL, colour=colour)

    return [
        *(f"{env_file}:{line}: {bad('malformed line')} (expected KEY=value)" for line in facts["malformed_lines"]),
        *(f"{bad('missing')}: {key} (documented in {example})" for key in facts["missing"]),
        *(f"{bad('unknown')}: {key} (not in {example}; a typo?)" for key in facts["unknown"]),
        *(f"{paint('warning', WARN, colour=colour)}: {warning}" for warning in facts["warnings"]),
        *(f"note: {note}" for note in facts["notes"]),
    ]


def env_ok_line(facts: Doc, *, colour: bool = False) -> str:
    return f"{facts['env_file']}: {label(OK, colour=colour)} ({facts['keys']} keys)"
