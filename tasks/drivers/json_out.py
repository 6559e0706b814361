"""`--json`: exactly one JSON document on stdout, whatever happens; everything else on stderr."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from invoke.exceptions import Exit

from tasks.knowledge.failures import UserError
from tasks.knowledge.json_doc import Doc, document, dumps, error_document


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
        with contextlib.redirect_stdout(sys.stderr):
            ok, body = gather()
    except Exit as error:
        message = error.reason if isinstance(error, UserError) else str(error.message or f"exit code {error.code}")
        print(dumps(error_document(command, message.removeprefix("error: "))), file=real, flush=True)
        raise
    print(dumps(document(command, ok, body)), file=real, flush=True)
    return ok
