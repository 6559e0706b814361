"""Invoke's entry point: the root collection is the package ``tasks/`` beside this file.

Invoke loads this file as the module ``tasks``, which would hide the package of the same name. This
file steps aside (drops itself from ``sys.modules``) so that the import below finds the package, the
one place the tasks live: ``inv``, pytest, mypy and an IDE all see the same ordinary package.
Run ``inv --list`` for the tasks and ``inv --help <task>`` for their flags.
"""

import os
import sys

del sys.modules[__name__]

# Invoke turns off bytecode caches (its --write-pyc flag) so as not to litter a folder of tasks;
# tasks/ is a package with a .gitignored __pycache__, and without caches every call would compile
# what it imports again (~15 ms). PYTHONDONTWRITEBYTECODE still wins.
sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))

from tasks import ns  # noqa: E402  (the package tasks/, now that this module is out of the way)

__all__ = ["ns"]
