"""`--json`: exactly one JSON document on stdout, whatever happens; everything else on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

from invoke.exceptions import Exit

from ..knowledge.failures import UserError
from ..knowledge.json_doc import Doc, document, dumps, error_document


def emit(command: str, gather: Callable[[], tuple[bool, Doc]]) -> bool:
    """Run ``gather`` (it returns ``ok`` and the command's facts) with anything it prints sent to
    stderr, then print the document on stdout and return ``ok``; the caller exits non-zero when it
    is false, as the text form does.

    When ``gather`` stops with an error, stdout gets `error_document` (the reason, without the
    ``error:`` prefix) and the error goes on: Invoke prints its one ``error:`` line on stderr and
    exits with its code.
    """
    real = sys.stdout
    try:
        with _stdout_to_stderr():
            ok, body = gather()
    except Exit as error:
        message = error.reason if isinstance(error, UserError) else str(error.message or f"exit code {error.code}")
        print(dumps(error_document(command, message.removeprefix("error: "))), file=real, flush=True)
        raise
    print(dumps(document(command, ok, body)), file=real, flush=True)
    return ok


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Python's prints and, at the descriptor level, any child process's output go to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        saved: int | None = None
        try:
            if sys.__stdout__ is not None:
                sys.__stdout__.flush()
            duplicate = os.dup(1)
        except (OSError, ValueError):  # no descriptor 1 (an embedding host): Python's prints only
            duplicate = None
        if duplicate is not None:
            try:
                os.dup2(2, 1)
                saved = duplicate
            except OSError:
                os.close(duplicate)
        try:
            yield
        finally:
            if saved is not None:
                os.dup2(saved, 1)
                os.close(saved)
