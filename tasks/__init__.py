"""The dev-stack task collection: the root namespace Invoke loads through ``tasks.py``.

Three layers, one folder each:

- ``tasks/*.py``: the Invoke namespaces a user types (``worker``, ``dev``, ``stack``, ``env``,
  ``prodlike``) and the root tasks (``doctor``, ``setup``). Thin: they read the settings, call the
  layers below and print.
- ``tasks/knowledge/``: what needs no I/O: settings, Compose command lines and output, the ``.env``
  reader, the heap plan, failure texts, status rendering. Unit-tested without Docker.
- ``tasks/drivers/``: what talks to Docker, Compose, the host app and processes.

Each ``inv`` call pays for every import at start-up, so the namespace modules import only Invoke at
module level; a task imports the knowledge and drivers it uses when it runs (``inv --list`` loads
neither).

Installed, this folder is the package ``devstack_tasks`` (distribution ``devstack-tasks``) and an
adopter's ``tasks.py`` is ``from devstack_tasks import ns``; in this checkout it is ``tasks``. Its
imports are relative, so it works under either name.
"""

from __future__ import annotations

import atexit
import gc
import signal

from invoke.collection import Collection

from . import dev, env, prodlike, stack, worker
from ._version import __version__
from .adopt import adopt
from .doctor import doctor
from .knowledge import config_errors
from .knowledge.defaults import DEFAULTS
from .setup import setup

# At exit, Python's teardown runs a last garbage collection over every object the imports made (about
# 20 ms of an `inv` call here, bench/worker_up.py): the process is ending and the OS takes its memory
# back, so those objects are frozen out of it. Files are closed by `with` blocks, standard streams are
# flushed by the interpreter as before.
atexit.register(gc.freeze)

# Piped into `head` and the like, a task ends quietly when the reader goes away, as CLI tools do,
# instead of a BrokenPipeError traceback. (`dev.worker` ignores SIGPIPE again while it runs: its
# restore must not be cut short.)
if hasattr(signal, "SIGPIPE"):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

# Invoke parses invoke.yaml after loading this collection, outside any task: a YAML error there is one
# `error:` line (file, line, column), not Invoke's traceback.
config_errors.install()

ns = Collection(adopt, doctor, setup, worker.ns, dev.ns, stack.ns, env.ns, prodlike.ns)
# On the root: Invoke merges only the collections on the path to the invoked task. The project's
# own values live in invoke.yaml, a user's in ~/.invoke.yaml or INVOKE_<SECTION>_<KEY> variables.
ns.configure(DEFAULTS)

__all__ = ["__version__", "ns"]
