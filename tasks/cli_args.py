"""Optional positional arguments for Invoke tasks: `inv worker.up` and `inv worker.up email` (CLI layer).

Invoke's positional arguments are required, and its parser gives the next token to a missing one
before anything else: `inv worker.status env.check` would name a worker `env.check`, `inv worker.up -h`
a worker `-h`. An argument with a default becomes a flag (`--name email`, `-n email`), which Invoke
parses natively; the bare form `inv worker.up email` needs two small wraps of Invoke's parse machine
(`invoke.parser.parser.ParseMachine`, the same in Invoke 2.2 to 3.0; tests/unit/test_cli_args.py pins
each behaviour through Invoke's own `Parser` and `Program`):

- ``handle``: a token that names a task (or alias) or starts with ``-`` is never taken as the optional
  argument, so it is parsed as Invoke would anyway: the next task, a flag, or ``-h``/``--help``. Any
  other token fills it, as for a required positional.
- ``complete_context``: an optional argument that received nothing gets "" instead of Invoke's
  "did not receive required positional arguments". The task sees "" for "all workers" (or "the
  default worker").

So a worker named like a task (or starting with ``-``) is named with ``--name``.
"""

from __future__ import annotations

from typing import Any

from invoke.parser.parser import ParseMachine

#: (task name, argument name) pairs that may be left out.
_OPTIONAL: set[tuple[str, str]] = set()
_original_handle = ParseMachine.handle
_original_complete_context = ParseMachine.complete_context


def _unfilled_optional(machine: Any) -> list[Any]:
    context = machine.context
    if context is None or not context.name:
        return []
    return [arg for arg in context.missing_positional_args if (context.name, arg.name) in _OPTIONAL]


def _handle(self: Any, token: str) -> None:
    waiting = self.current_state == "unknown" or self.waiting_for_flag_value
    held = [] if waiting else _unfilled_optional(self)
    if held and (token.startswith("-") or token in self.contexts):
        # Hide the optional argument from Invoke for this one token (it is "missing" while its value
        # is None), then give it back unfilled unless the token moved on to another task.
        context = self.context
        before = [(arg, arg.raw_value, arg._value) for arg in held]
        for arg in held:
            arg.set_value("", cast=False)
        try:
            _original_handle(self, token)
        finally:
            if self.context is context:
                for arg, raw, value in before:
                    arg.raw_value, arg._value = raw, value
        return
    _original_handle(self, token)


def _complete_context(self: Any) -> None:
    for arg in _unfilled_optional(self):
        arg.set_value("", cast=False)
    _original_complete_context(self)


def optional_positional(task_name: str, arg_name: str = "name") -> None:
    """Let ``inv <task_name>`` be called without its positional ``arg_name``."""
    _OPTIONAL.add((task_name, arg_name))
    ParseMachine.handle = _handle  # type: ignore[method-assign]
    ParseMachine.complete_context = _complete_context  # type: ignore[method-assign]
