"""A YAML error in the configuration Invoke loads (invoke.yaml, `inv -f FILE`), as one line.

Invoke parses invoke.yaml itself, after it has loaded this collection and outside any task, so a
syntax error there (a `!NAME` pasted unquoted is a YAML tag) would end in Invoke's 60-line traceback.
The collection installs an exception hook (``tasks/__init__.py``) that turns such an error into
``error: FILE, line L, column C: PROBLEM`` and exit 1, and leaves every other exception alone.
Duck-typed on PyYAML's MarkedYAMLError (``problem``, ``problem_mark``), whichever copy raised it
(Invoke vendors its own), so nothing is imported for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

Hook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


def yaml_error_line(error: BaseException) -> str | None:
    """One line for a YAML parsing error, or None for anything else."""
    if "yaml" not in type(error).__module__:
        return None
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or str(error).splitlines()[0]
    where = ""
    if mark is not None:
        line, column = getattr(mark, "line", 0) + 1, getattr(mark, "column", 0) + 1
        where = f"{getattr(mark, 'name', '?')}, line {line}, column {column}: "
    hint = ""
    if "tag" in str(problem) or "alias" in str(problem) or "flow" in str(getattr(error, "context", "") or ""):
        hint = ' (a value starting with ! or * or holding [ ] { } must be quoted: "!NAME")'
    return f"error: {where}{problem}{hint}"


def install(previous: Hook | None = None) -> None:
    """Show a YAML error of the configuration as one line (the exit code stays 1); anything else as before."""
    chained = previous or sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> Any:
        line = yaml_error_line(error)
        if line is None:
            return chained(kind, error, traceback)
        print(line, file=sys.stderr)  # the interpreter then exits 1, as for any uncaught exception
        return None

    sys.excepthook = hook
