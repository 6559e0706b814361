"""Invoke entry point: the root collection of the dev-stack tasks.

Run ``inv --list`` for the tasks and ``inv --help <task>`` for their flags.
"""
import os
import signal
import sys
from pathlib import Path

# Invoke imports this file as the module ``tasks`` before it would look at the ``tasks/`` folder, so
# that folder can never be imported as a package of its own. Giving this module a ``__path__`` makes
# it the package: ``tasks.worker`` resolves to ``tasks/worker.py`` under ``inv`` and under pytest
# alike (pytest finds this file first too: a plain module wins over a folder with no __init__.py).
__path__ = [str(Path(__file__).resolve().parent / "tasks")]

# Invoke turns off writing bytecode caches (its --write-pyc flag), so every `inv` call would compile
# all of tasks/ again (~15 ms of each call). Our modules keep their caches unless the user's
# PYTHONDONTWRITEBYTECODE says otherwise.
_invoke_choice = sys.dont_write_bytecode
sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
try:
    from tasks.collection import build_namespace  # noqa: E402
finally:
    sys.dont_write_bytecode = _invoke_choice

# Piped into `head` and the like, a task ends quietly when the reader goes away, as CLI tools do,
# instead of a BrokenPipeError traceback. (`dev.worker` ignores SIGPIPE again while it runs: its
# restore must not be cut short.)
if hasattr(signal, "SIGPIPE"):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

ns = build_namespace()
