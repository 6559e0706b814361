"""Optional positional arguments for Invoke tasks: `inv worker.up` and `inv worker.up email` (CLI layer).

Invoke's positional arguments are required (its parser fails with "did not receive required
positional arguments" when one is left out), and an argument with a default becomes a flag. A task
that acts on every worker or on one needs a name that may be omitted, so the parser's final check
is wrapped: a positional argument registered here that received nothing gets "" instead of an
error. The task sees "" for "all workers" (or "the default worker"). The flag form (`--name email`)
keeps working, as for every Invoke positional argument.
"""

from __future__ import annotations

from typing import Any

from invoke.parser.parser import ParseMachine

#: (task name, argument name) pairs that may be left out.
_OPTIONAL: set[tuple[str, str]] = set()
_original = ParseMachine.complete_context


def _complete_context(self: Any) -> None:
    context = self.context
    if context is not None:
        for arg in context.positional_args:
            if arg.value is None and (context.name, arg.name) in _OPTIONAL:
                arg.set_value("", cast=False)
    _original(self)


def optional_positional(task_name: str, arg_name: str = "name") -> None:
    """Let ``inv <task_name>`` be called without its positional ``arg_name``."""
    _OPTIONAL.add((task_name, arg_name))
    ParseMachine.complete_context = _complete_context  # type: ignore[method-assign]
