"""Reading the project's ``.env`` the way Compose does, and checking it against ``.env.example``.

Values from the process environment win over ``.env`` (as in Compose's interpolation). Values are
never printed: only keys and line numbers appear in messages.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv.parser import parse_stream

from ..knowledge.failures import UserError


@dataclass
class EnvFile:
    path: Path
    values: dict[str, str] = field(default_factory=dict)
    malformed: list[int] = field(default_factory=list)  # 1-based line numbers


def parse(text: str, path: Path = Path(".env")) -> EnvFile:
    """Parse dotenv text; lines python-dotenv cannot parse are recorded by line number."""
    env = EnvFile(path)
    line = 1
    for binding in parse_stream(io.StringIO(text)):
        # A bare word without `=` parses as a key with no value: in a .env that is a mistake too.
        if binding.error or (binding.key is not None and binding.value is None):
            env.malformed.append(line)
        elif binding.key is not None and binding.value is not None:
            env.values[binding.key] = binding.value
        line += binding.original.string.count("\n")
    return env


def read(path: Path) -> EnvFile:
    return parse(path.read_text(encoding="utf-8"), path)


def shown(path: Path) -> str:
    """A path as the user can find it: relative to the working folder when below it, else absolute
    (the env file Compose reads may be `infra/docker/.env`, not the root's `.env`)."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


def load(path: Path, example: Path) -> EnvFile:
    """The project's .env, or one clear error (naming it by its path) when it is missing or malformed."""
    if not path.is_file():
        raise UserError(
            f"{shown(path)} is missing: copy {shown(example)} to {shown(path)} (or run `inv env.init`) and adjust it"
        )
    env = read(path)
    if env.malformed:
        lines = ", ".join(str(n) for n in env.malformed)
        raise UserError(f"{shown(path)} is malformed at line {lines}: expected KEY=value (see {shown(example)})")
    return env


def effective(env: EnvFile, environ: dict[str, str] | None = None) -> dict[str, str]:
    """.env overlaid by the process environment: what Compose interpolates with."""
    merged = dict(env.values)
    merged.update(os.environ if environ is None else environ)
    return merged


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class EnvReport:
    missing: list[str]
    unknown: list[str]
    malformed: list[int]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unknown or self.malformed)


def compare(env: EnvFile, example: EnvFile) -> EnvReport:
    """Keys the example documents but .env lacks, keys .env has that the example does not know."""
    return EnvReport(
        missing=sorted(set(example.values) - set(env.values)),
        unknown=sorted(set(env.values) - set(example.values)),
        malformed=list(env.malformed),
    )
